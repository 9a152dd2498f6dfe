use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::now_utc;
use crate::domain::{AnnounceType, Category, Paper, PaperId, Source};

/// Stores the papers of one announcement day (each once, by versionless ID; a newer version
/// updates the row) and which of them the day carried.
pub fn save_announcement(
    conn: &mut Connection,
    day: NaiveDate,
    papers: &[Paper],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut announce = tx.prepare(
            "INSERT INTO announcements (day, paper_id, announce_type) VALUES (?1, ?2, ?3)
             ON CONFLICT(day, paper_id) DO UPDATE SET announce_type = excluded.announce_type",
        )?;
        upsert(&tx, papers)?;
        for p in papers {
            announce.execute(params![
                day.to_string(),
                p.id.as_str(),
                p.announce_type.as_str()
            ])?;
        }
    }
    tx.commit()
}

/// Stores newer versions of papers without announcing them again (a preprint's v2 read after
/// its v1 was sent: the latest title and abstract, never a second listing).
pub fn save_revisions(conn: &mut Connection, papers: &[Paper]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    upsert(&tx, papers)?;
    tx.commit()
}

fn upsert(conn: &Connection, papers: &[Paper]) -> rusqlite::Result<()> {
    let now = now_utc();
    let mut upsert = conn.prepare_cached(
        "INSERT INTO papers (id, version, title, authors, abstract, abstract_z, categories, doi, journal_ref, first_seen, updated_at, source)
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET
            version = excluded.version, title = excluded.title, authors = excluded.authors,
            abstract = excluded.abstract, abstract_z = excluded.abstract_z,
            categories = excluded.categories, doi = excluded.doi,
            journal_ref = excluded.journal_ref, updated_at = excluded.updated_at
         WHERE excluded.version >= papers.version",
    )?;
    for p in papers {
        let authors = serde_json::to_string(&p.authors).expect("strings serialize");
        let cats: Vec<&str> = p.categories.iter().map(Category::as_str).collect();
        let cats = serde_json::to_string(&cats).expect("strings serialize");
        upsert.execute(params![
            p.id.as_str(),
            p.version,
            p.title,
            authors,
            super::packed::pack(p.abstract_text.as_bytes()),
            cats,
            p.doi,
            p.journal_ref,
            now,
            p.source.as_str(),
        ])?;
    }
    Ok(())
}

/// Which of `ids` were announced on a day other than `day` (a preprint seen before).
pub fn announced_elsewhere(
    conn: &Connection,
    ids: &[PaperId],
    day: NaiveDate,
) -> rusqlite::Result<std::collections::HashSet<PaperId>> {
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM announcements WHERE paper_id = ?1 AND day <> ?2 LIMIT 1")?;
    let mut out = std::collections::HashSet::new();
    for id in ids {
        if stmt.exists(params![id.as_str(), day.to_string()])? {
            out.insert(id.clone());
        }
    }
    Ok(out)
}

/// The papers announced on `day`, as stored. Rows that no longer parse are logged and skipped.
pub fn announced(conn: &Connection, day: NaiveDate) -> rusqlite::Result<Vec<Paper>> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.version, p.title, p.authors, p.abstract, p.categories, p.doi, p.journal_ref, a.announce_type, p.source, p.abstract_z
         FROM announcements a JOIN papers p ON p.id = a.paper_id WHERE a.day = ?1 ORDER BY a.rowid",
    )?;
    let rows = stmt.query_map([day.to_string()], row)?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(r?);
    }
    Ok(out)
}

/// The stored papers among `ids` (as first announced), whatever day they came.
pub fn by_ids(conn: &Connection, ids: &[PaperId]) -> rusqlite::Result<Vec<Paper>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.version, p.title, p.authors, p.abstract, p.categories, p.doi, p.journal_ref,
                (SELECT a.announce_type FROM announcements a WHERE a.paper_id = p.id ORDER BY a.day LIMIT 1),
                p.source, p.abstract_z
         FROM papers p WHERE p.id = ?1",
    )?;
    let mut out = Vec::new();
    for id in ids {
        let mut rows = stmt.query_map([id.as_str()], row)?;
        if let Some(r) = rows.next() {
            out.extend(r?);
        }
    }
    Ok(out)
}

/// One stored paper (id, version, title, authors, abstract, categories, doi, journal_ref,
/// announce type, source, deflated abstract); `None`, logged, when it no longer parses.
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Paper>> {
    let id: String = r.get(0)?;
    let announce: Option<String> = r.get(8)?;
    let (authors, cats, source): (String, String, String) = (r.get(3)?, r.get(5)?, r.get(9)?);
    let parsed = (|| {
        Some(Paper {
            id: PaperId::parse(&id).ok()?,
            source: Source::parse(&source)?,
            version: r.get(1).ok()?,
            title: r.get(2).ok()?,
            authors: serde_json::from_str(&authors).ok()?,
            abstract_text: match r.get::<_, Option<Vec<u8>>>(10).ok()? {
                Some(z) => String::from_utf8(super::packed::unpack(&z).ok()?).ok()?,
                None => r.get(4).ok()?,
            },
            categories: serde_json::from_str::<Vec<String>>(&cats)
                .ok()?
                .iter()
                .filter_map(|c| Category::parse(c).ok())
                .collect(),
            announce_type: AnnounceType::parse(announce.as_deref().unwrap_or("new"))?,
            doi: r.get(6).ok()?,
            journal_ref: r.get(7).ok()?,
        })
    })();
    if parsed.is_none() {
        tracing::warn!(paper = %id, "skipping a stored paper that no longer parses");
    }
    Ok(parsed)
}

/// Deflates the abstracts stored in the clear (migration 19's hook).
pub(super) fn migrate_abstracts(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare("SELECT id, abstract FROM papers WHERE abstract_z IS NULL")?;
    let mut write =
        conn.prepare("UPDATE papers SET abstract = '', abstract_z = ?2 WHERE id = ?1")?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let (id, text): (String, String) = (r.get(0)?, r.get(1)?);
        write.execute(params![id, super::packed::pack(text.as_bytes())])?;
    }
    Ok(())
}

/// The days `id` was announced and how (`new`, `cross`, …), oldest first.
pub fn appearances(conn: &Connection, id: &PaperId) -> rusqlite::Result<Vec<(NaiveDate, String)>> {
    let mut stmt = conn
        .prepare("SELECT day, announce_type FROM announcements WHERE paper_id = ?1 ORDER BY day")?;
    let rows = stmt.query_map([id.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (day, t) = row?;
        if let Ok(day) = day.parse() {
            out.push((day, t));
        }
    }
    Ok(out)
}

/// Stored announcement days after `after` and before `before`, oldest first.
pub fn days_between(
    conn: &Connection,
    after: NaiveDate,
    before: NaiveDate,
) -> rusqlite::Result<Vec<NaiveDate>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT day FROM announcements WHERE day > ?1 AND day < ?2 ORDER BY day",
    )?;
    let rows = stmt.query_map([after.to_string(), before.to_string()], |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for r in rows {
        if let Ok(d) = r?.parse() {
            out.push(d);
        }
    }
    Ok(out)
}

/// The most recent announcement day with papers stored.
pub fn latest_day(conn: &Connection) -> rusqlite::Result<Option<NaiveDate>> {
    let day: Option<String> =
        conn.query_row("SELECT max(day) FROM announcements", [], |r| r.get(0))?;
    Ok(day.and_then(|d| d.parse().ok()))
}

/// Papers and announcements as typed methods.
impl super::Store {
    /// The papers announced on `day`, as stored.
    pub async fn announced_papers(&self, day: NaiveDate) -> anyhow::Result<Vec<Paper>> {
        self.call(move |c| announced(c, day)).await
    }

    /// The stored papers of every announcement day after `after` and before `before`, oldest
    /// day first, each with its day; read in one go.
    pub async fn announced_between(
        &self,
        after: NaiveDate,
        before: NaiveDate,
    ) -> anyhow::Result<Vec<(NaiveDate, Paper)>> {
        self.call(move |c| {
            let mut out = Vec::new();
            for d in days_between(c, after, before)? {
                for p in announced(c, d)? {
                    out.push((d, p));
                }
            }
            Ok(out)
        })
        .await
    }

    /// The stored papers of `ids` (those not stored are absent).
    pub async fn papers_by_ids(&self, ids: Vec<PaperId>) -> anyhow::Result<Vec<Paper>> {
        self.call(move |c| by_ids(c, &ids)).await
    }

    /// The latest announcement day stored.
    pub async fn latest_announced_day(&self) -> anyhow::Result<Option<NaiveDate>> {
        self.call(|c| latest_day(c)).await
    }

    /// Which of `ids` were announced on a day other than `day`.
    pub async fn announced_elsewhere(
        &self,
        ids: Vec<PaperId>,
        day: NaiveDate,
    ) -> anyhow::Result<std::collections::HashSet<PaperId>> {
        self.call(move |c| announced_elsewhere(c, &ids, day)).await
    }

    /// Stores `day`'s announcement and records it as what `run_id` fetched, in one step.
    pub async fn save_fetched_announcement(
        &self,
        run_id: i64,
        day: NaiveDate,
        papers: Vec<Paper>,
    ) -> anyhow::Result<()> {
        let n = papers.len();
        self.call(move |c| {
            save_announcement(c, day, &papers)?;
            super::runs::fetched(c, run_id, day, n)
        })
        .await
    }

    /// Stores preprint revisions and moves each subject's read window to its day, in one step.
    pub async fn save_preprint_reads(
        &self,
        revisions: Vec<Paper>,
        marks: Vec<(Category, NaiveDate)>,
    ) -> anyhow::Result<()> {
        self.call(move |c| {
            save_revisions(c, &revisions)?;
            for (category, day) in &marks {
                super::source_reads::mark(c, category, *day)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn paper(id: &str, version: u32, title: &str) -> Paper {
        Paper {
            id: PaperId::parse(id).unwrap(),
            source: crate::domain::Source::Arxiv,
            version,
            title: title.into(),
            authors: vec!["Björn W. Schuller".into(), "Yun (Eric) Liang".into()],
            abstract_text: "a < b & c".into(),
            categories: vec![Category::parse("cs.LG").unwrap()],
            announce_type: AnnounceType::New,
            doi: None,
            journal_ref: None,
        }
    }

    #[test]
    fn a_paper_is_stored_once_and_round_trips() {
        let store = Store::open_in_memory().unwrap();
        let d1 = NaiveDate::from_ymd_opt(2025, 3, 27).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        store
            .with(|c| save_announcement(c, d1, &[paper("2503.00001", 1, "v1 title")]))
            .unwrap();
        let mut replaced = paper("2503.00001", 2, "v2 title");
        replaced.announce_type = AnnounceType::Replace;
        store
            .with(|c| save_announcement(c, d2, &[replaced.clone()]))
            .unwrap();
        // An older version arriving late does not overwrite the newer one.
        store
            .with(|c| save_announcement(c, d1, &[paper("2503.00001", 1, "v1 title")]))
            .unwrap();
        let n: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM papers", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(store.with(|c| announced(c, d2)).unwrap(), vec![replaced]);
        assert_eq!(
            store.with(|c| announced(c, d1)).unwrap()[0].title,
            "v2 title"
        );
    }
}
