//! Papers owed to a reader: they could not be scored for them in time (the model failed, the
//! budget ran out). A later run scores them and sends those that pass; none is lost.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use super::now_utc;
use crate::domain::problem::Problem;
use crate::domain::{PaperId, SubscriberEmail};

/// Records `papers` (of announcement `day`) as owed to `subscriber`, with the latest problem.
pub fn add(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
    papers: &[(PaperId, Problem)],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO owed (subscriber, paper_id, day, problem, detail, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(subscriber, paper_id) DO UPDATE SET problem = excluded.problem, detail = excluded.detail",
    )?;
    for (id, p) in papers {
        stmt.execute(params![
            subscriber,
            id.as_str(),
            day.to_string(),
            p.kind.as_str(),
            p.detail,
            now_utc()
        ])?;
    }
    Ok(())
}

/// The papers no longer owed: they were judged (scored, or pinned as an author match).
pub fn settle(conn: &Connection, subscriber: &str, papers: &[PaperId]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("DELETE FROM owed WHERE subscriber = ?1 AND paper_id = ?2")?;
    for id in papers {
        stmt.execute(params![subscriber, id.as_str()])?;
    }
    Ok(())
}

/// What is owed to `subscriber`, by announcement day.
pub fn list(conn: &Connection, subscriber: &str) -> rusqlite::Result<Vec<(NaiveDate, PaperId)>> {
    let mut stmt = conn
        .prepare("SELECT day, paper_id FROM owed WHERE subscriber = ?1 ORDER BY day, paper_id")?;
    let rows = stmt.query_map([subscriber], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (day, id) = row?;
        if let (Ok(day), Ok(id)) = (day.parse(), PaperId::parse(&id)) {
            out.push((day, id));
        }
    }
    Ok(out)
}

/// Every paper owed to some readers, and who is owed what (by address).
#[derive(Debug, Clone, Default)]
pub struct OwedPapers {
    pub papers: std::collections::HashMap<PaperId, crate::domain::Paper>,
    pub by_reader: std::collections::HashMap<String, Vec<PaperId>>,
}

impl super::Store {
    /// Every paper owed to one of `subscribers` (as stored on its announcement day), and who is
    /// owed what; read in one go.
    pub async fn owed_papers(&self, subscribers: &[SubscriberEmail]) -> anyhow::Result<OwedPapers> {
        use std::collections::{HashMap, HashSet};
        let emails: Vec<String> = subscribers.iter().map(|s| s.to_string()).collect();
        self.call(move |c| {
            let mut by_reader: HashMap<String, Vec<PaperId>> = HashMap::new();
            let mut days: HashMap<NaiveDate, HashSet<PaperId>> = HashMap::new();
            for e in emails {
                for (day, id) in list(c, &e)? {
                    days.entry(day).or_default().insert(id.clone());
                    by_reader.entry(e.clone()).or_default().push(id);
                }
            }
            let mut papers = HashMap::new();
            for (day, ids) in days {
                for p in super::papers::announced(c, day)? {
                    if ids.contains(&p.id) {
                        papers.insert(p.id.clone(), p);
                    }
                }
            }
            Ok(OwedPapers { papers, by_reader })
        })
        .await
    }
}

/// Why `paper` is still owed to `subscriber`: the kind of the last problem and its detail
/// (`None`: it is not owed).
pub fn problem(
    conn: &Connection,
    subscriber: &str,
    paper: &PaperId,
) -> rusqlite::Result<Option<(String, Option<String>)>> {
    conn.query_row(
        "SELECT problem, detail FROM owed WHERE subscriber = ?1 AND paper_id = ?2",
        params![subscriber, paper.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// What a reader's day settled (judged) and what it still owes them.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub settled: Vec<PaperId>,
    pub owed: Vec<(PaperId, Problem)>,
}

/// Owed papers as typed methods.
impl super::Store {
    /// Records `ledger` for `subscriber`'s `day` in one transaction: the settled papers are no
    /// longer owed, the owed ones are.
    pub async fn keep_owed(
        &self,
        subscriber: &SubscriberEmail,
        day: NaiveDate,
        ledger: Ledger,
    ) -> anyhow::Result<()> {
        let s = subscriber.to_string();
        self.call(move |c| {
            let tx = c.transaction()?;
            settle(&tx, &s, &ledger.settled)?;
            add(&tx, &s, day, &ledger.owed)?;
            tx.commit()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::problem::{Kind, Problem};
    use crate::store::Store;

    #[test]
    fn the_problem_of_an_owed_paper_is_read_back() {
        let store = Store::open_in_memory().unwrap();
        let id = PaperId::parse("2503.21135").unwrap();
        assert_eq!(store.with(|c| problem(c, "a@b.org", &id)).unwrap(), None);
        let day = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        let p = Problem::new(Kind::ModelFailed, "timeout");
        store
            .with(|c| add(c, "a@b.org", day, &[(id.clone(), p.clone())]))
            .unwrap();
        assert_eq!(
            store.with(|c| problem(c, "a@b.org", &id)).unwrap(),
            Some((p.kind.as_str().to_string(), Some(p.detail.clone())))
        );
        assert_eq!(store.with(|c| problem(c, "c@d.org", &id)).unwrap(), None);
    }
}
