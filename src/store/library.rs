//! Libraries sent by reply, waiting for the reader's "yes"; the papers of imported libraries.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension as _};

use super::{now_utc, Store};
use crate::domain::SubscriberEmail;

pub fn save_pending(
    conn: &Connection,
    subscriber: &str,
    message_id: &str,
    plan: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO library_imports (subscriber, message_id, plan, status, created_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![subscriber, message_id, plan, now_utc()],
    )?;
    Ok(())
}

impl Store {
    /// Keeps the reader's proposed library import (`plan`, JSON) until they say "yes".
    pub async fn save_pending_library(
        &self,
        subscriber: &SubscriberEmail,
        message_id: &str,
        plan: &str,
    ) -> anyhow::Result<()> {
        let (s, id, plan) = (
            subscriber.to_string(),
            message_id.to_string(),
            plan.to_string(),
        );
        self.call(move |c| save_pending(c, &s, &id, &plan)).await
    }
}

/// The reader's latest pending import since `since` (RFC 3339): (row id, plan JSON).
pub fn latest_pending(
    conn: &Connection,
    subscriber: &str,
    since: &str,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT id, plan FROM library_imports WHERE subscriber = ?1 AND status = 'pending' AND created_at >= ?2
         ORDER BY id DESC LIMIT 1",
        params![subscriber, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

impl Store {
    /// The reader's latest pending library import since `since` (RFC 3339): (row id, plan JSON).
    pub async fn latest_pending_library(
        &self,
        subscriber: &SubscriberEmail,
        since: &str,
    ) -> anyhow::Result<Option<(i64, String)>> {
        let (s, since) = (subscriber.to_string(), since.to_string());
        self.call(move |c| latest_pending(c, &s, &since)).await
    }
}

pub fn mark_applied(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE library_imports SET status = 'applied' WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// One paper of a reader's imported library: what it is called and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibraryPaper {
    pub title: String,
    /// "Given Last", TeX resolved.
    pub authors: Vec<String>,
}

/// Papers kept per reader's library, at most: an import past it lets the earliest imported go.
pub const MAX_LIBRARY: usize = 10_000;

/// What keeping an import did: papers new to the library, and papers let go to stay within
/// [`MAX_LIBRARY`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    pub new: usize,
    pub let_go: usize,
}

impl Kept {
    /// A sentence for the reader when papers were let go.
    pub fn note(&self) -> Option<String> {
        (self.let_go > 0).then(|| {
            format!(
                "a library keeps at most {MAX_LIBRARY} papers: the {} imported earliest were let go",
                self.let_go
            )
        })
    }
}

/// Keeps the papers of `subscriber`'s imported library (a title already kept is kept once),
/// the newest [`MAX_LIBRARY`] of them.
pub fn remember_papers(
    conn: &Connection,
    subscriber: &str,
    papers: &[LibraryPaper],
    day: NaiveDate,
) -> rusqlite::Result<Kept> {
    let mut stmt = conn.prepare(
        "INSERT INTO library_papers (subscriber, title, authors, imported_on) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    let mut n = 0;
    for p in papers.iter().filter(|p| !p.title.trim().is_empty()) {
        let authors = serde_json::to_string(&p.authors).expect("a list of strings");
        n += stmt.execute(params![
            subscriber,
            p.title.trim(),
            authors,
            day.to_string()
        ])?;
    }
    let let_go = conn.execute(
        "DELETE FROM library_papers WHERE subscriber = ?1 AND rowid NOT IN
           (SELECT rowid FROM library_papers WHERE subscriber = ?1 ORDER BY rowid DESC LIMIT ?2)",
        params![subscriber, MAX_LIBRARY as i64],
    )?;
    Ok(Kept { new: n, let_go })
}

/// The latest `latest` papers of each of `subscribers`' libraries, in the order they were
/// imported (a run reads what it uses, never the whole table).
pub fn papers_of(
    conn: &Connection,
    subscribers: &[String],
    latest: usize,
) -> rusqlite::Result<HashMap<String, Vec<LibraryPaper>>> {
    let mut stmt = conn.prepare(
        "SELECT title, authors FROM
           (SELECT rowid, title, authors FROM library_papers WHERE subscriber = ?1 ORDER BY rowid DESC LIMIT ?2)
         ORDER BY rowid",
    )?;
    let mut out = HashMap::new();
    for s in subscribers {
        let rows = stmt.query_map(params![s, latest as i64], |r| {
            let authors: String = r.get(1)?;
            Ok(LibraryPaper {
                title: r.get(0)?,
                authors: serde_json::from_str(&authors).unwrap_or_default(),
            })
        })?;
        let papers: Vec<LibraryPaper> = rows.collect::<rusqlite::Result<_>>()?;
        if !papers.is_empty() {
            out.insert(s.clone(), papers);
        }
    }
    Ok(out)
}

/// What a reader has taught the ranking: "more like" and "less like" examples, and the papers
/// of their library.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalCounts {
    pub more: usize,
    pub less: usize,
    pub library: usize,
}

pub fn signal_counts(conn: &Connection, subscriber: &str) -> rusqlite::Result<SignalCounts> {
    let (more, less): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(more), 0), COALESCE(SUM(1 - more), 0) FROM examples WHERE subscriber = ?1",
        [subscriber],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let library: i64 = conn.query_row(
        "SELECT COUNT(*) FROM library_papers WHERE subscriber = ?1",
        [subscriber],
        |r| r.get(0),
    )?;
    Ok(SignalCounts {
        more: more as usize,
        less: less as usize,
        library: library as usize,
    })
}

impl Store {
    /// The latest `latest` papers of each of `subscribers`' imported libraries (readers without
    /// one are absent).
    pub async fn library_papers(
        &self,
        subscribers: Vec<SubscriberEmail>,
        latest: usize,
    ) -> anyhow::Result<HashMap<SubscriberEmail, Vec<LibraryPaper>>> {
        let keys: Vec<String> = subscribers.iter().map(|s| s.to_string()).collect();
        let mut found = self.call(move |c| papers_of(c, &keys, latest)).await?;
        Ok(subscribers
            .into_iter()
            .filter_map(|s| found.remove(&s.to_string()).map(|p| (s, p)))
            .collect())
    }

    /// Keeps the papers of `subscriber`'s imported library (see [`remember_papers`]).
    pub async fn remember_library_papers(
        &self,
        subscriber: &SubscriberEmail,
        papers: Vec<LibraryPaper>,
        day: NaiveDate,
    ) -> anyhow::Result<Kept> {
        let s = subscriber.to_string();
        self.call(move |c| remember_papers(c, &s, &papers, day))
            .await
    }

    /// How many signals `subscriber` has taught the ranking.
    pub fn signal_counts(&self, subscriber: &SubscriberEmail) -> anyhow::Result<SignalCounts> {
        let s = subscriber.to_string();
        self.with(move |c| signal_counts(c, &s))
    }
}
