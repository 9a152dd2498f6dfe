//! What the web archive reads: each reader's secret folder name and the pages of their digests.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension as _};

use super::{now_utc, Store};

/// The reader's archive key, made the first time it is asked for: a random UUIDv4 written as 32
/// hex digits (122 random bits).
pub fn key_for(conn: &Connection, subscriber: &str) -> rusqlite::Result<String> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT key FROM archive_keys WHERE subscriber = ?1",
            [subscriber],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(k) = existing {
        return Ok(k);
    }
    let key = uuid::Uuid::new_v4().simple().to_string();
    conn.execute(
        "INSERT INTO archive_keys (subscriber, key, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(subscriber) DO NOTHING",
        params![subscriber, key, now_utc()],
    )?;
    conn.query_row(
        "SELECT key FROM archive_keys WHERE subscriber = ?1",
        [subscriber],
        |r| r.get(0),
    )
}

/// A new archive key for the reader (the old folder's address stops working): (old, new), or
/// `None` when they never had one.
pub fn rotate_key(
    conn: &Connection,
    subscriber: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    let old: Option<String> = conn
        .query_row(
            "SELECT key FROM archive_keys WHERE subscriber = ?1",
            [subscriber],
            |r| r.get(0),
        )
        .optional()?;
    let Some(old) = old else { return Ok(None) };
    let new = uuid::Uuid::new_v4().simple().to_string();
    conn.execute(
        "UPDATE archive_keys SET key = ?2, created_at = ?3 WHERE subscriber = ?1",
        params![subscriber, new, now_utc()],
    )?;
    Ok(Some((old, new)))
}

/// Forgets the reader's archive key (they were removed): the one they had, if any.
pub fn forget_key(conn: &Connection, subscriber: &str) -> rusqlite::Result<Option<String>> {
    let old: Option<String> = conn
        .query_row(
            "SELECT key FROM archive_keys WHERE subscriber = ?1",
            [subscriber],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute(
        "DELETE FROM archive_keys WHERE subscriber = ?1",
        [subscriber],
    )?;
    Ok(old)
}

impl Store {
    /// The reader's archive key, made the first time it is asked for.
    pub async fn archive_key(&self, subscriber: &str) -> anyhow::Result<String> {
        let s = subscriber.to_string();
        self.call(move |c| key_for(c, &s)).await
    }

    /// The reader's archive key and the days they have stored pages for, oldest first.
    pub async fn archive_key_and_days(
        &self,
        subscriber: &str,
    ) -> anyhow::Result<(String, Vec<NaiveDate>)> {
        let s = subscriber.to_string();
        self.call(move |c| Ok((key_for(c, &s)?, days(c, &s)?)))
            .await
    }
}

/// The days the reader has a stored page for, oldest first.
pub fn days(conn: &Connection, subscriber: &str) -> rusqlite::Result<Vec<NaiveDate>> {
    let mut stmt = conn.prepare(
        "SELECT day FROM deliveries WHERE subscriber = ?1 AND (page_z IS NOT NULL OR page IS NOT NULL) ORDER BY day",
    )?;
    let days = stmt
        .query_map([subscriber], |r| r.get::<_, String>(0))?
        .filter_map(|d| d.ok().and_then(|d| d.parse().ok()))
        .collect();
    Ok(days)
}

/// The stored page (JSON) of the reader's digest for `day`.
pub fn page(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT page_z, page FROM deliveries WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day.to_string()],
        |r| match r.get::<_, Option<Vec<u8>>>(0)? {
            Some(z) => {
                let bytes = super::packed::column(z, 0)?;
                String::from_utf8(bytes).map(Some).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Blob,
                        Box::new(e),
                    )
                })
            }
            None => r.get(1),
        },
    )
    .optional()
    .map(Option::flatten)
}

/// Everyone with a stored page, for a rebuild.
pub fn subscribers(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT subscriber FROM deliveries WHERE page_z IS NOT NULL OR page IS NOT NULL ORDER BY subscriber",
    )?;
    let out = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(out)
}

impl Store {
    /// Everyone with a stored page, for a rebuild.
    pub async fn archived_subscribers(&self) -> anyhow::Result<Vec<String>> {
        self.call(|c| subscribers(c)).await
    }
}
