//! How far each preprint server and subject has been read (calendar days).

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension as _};

use super::now_utc;
use crate::domain::Category;

/// The last day of `category` read completely, if any.
pub fn read_to(conn: &Connection, category: &Category) -> rusqlite::Result<Option<NaiveDate>> {
    let got: Option<String> = conn
        .query_row(
            "SELECT read_to FROM source_reads WHERE server = ?1 AND category = ?2",
            params![category.source().as_str(), category.name()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(got.and_then(|d| d.parse().ok()))
}

/// Records that `category` has been read through `day` (never moves back).
pub fn mark(conn: &Connection, category: &Category, day: NaiveDate) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO source_reads (server, category, read_to, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(server, category) DO UPDATE SET read_to = excluded.read_to, updated_at = excluded.updated_at
         WHERE excluded.read_to > source_reads.read_to",
        params![
            category.source().as_str(),
            category.name(),
            day.to_string(),
            now_utc()
        ],
    )?;
    Ok(())
}

/// The read windows as typed methods.
impl super::Store {
    /// The last day `category` has been read to.
    pub async fn read_to(&self, category: &Category) -> anyhow::Result<Option<NaiveDate>> {
        let c = category.clone();
        self.call(move |conn| read_to(conn, &c)).await
    }

    /// `category` has been read to `day`.
    pub async fn mark_read(&self, category: &Category, day: NaiveDate) -> anyhow::Result<()> {
        let c = category.clone();
        self.call(move |conn| mark(conn, &c, day)).await
    }
}
