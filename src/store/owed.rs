//! Papers owed to a reader: they could not be scored for them in time (the model failed, the
//! budget ran out). A later run scores them and sends those that pass; none is lost.

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::now_utc;
use crate::domain::problem::Problem;
use crate::domain::PaperId;

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
