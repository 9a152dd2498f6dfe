//! The "more/less like" examples readers give by reply or one click: kept per reader (the
//! newest [`MAX_EXAMPLES`]), undone with the reply that gave them, and counted for the next
//! digest's acknowledgement ([`taught_since`]).

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::{now_utc, Store};
use crate::domain::SubscriberEmail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub paper_id: String,
    pub more: bool,
    pub title: String,
}

/// "More/less like" examples kept per reader, at most: the newest count, the oldest are let go.
pub const MAX_EXAMPLES: usize = 100;

/// Adds (or updates) one example, keeping the reader's newest [`MAX_EXAMPLES`]; returns the
/// titles of the examples let go to make room.
pub fn add_example(
    conn: &Connection,
    subscriber: &str,
    ex: &Example,
    message_id: &str,
) -> rusqlite::Result<Vec<String>> {
    conn.execute(
        "INSERT INTO examples (subscriber, paper_id, more, title, message_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(subscriber, paper_id) DO UPDATE SET more = excluded.more, message_id = excluded.message_id, created_at = excluded.created_at",
        params![subscriber, ex.paper_id, ex.more, ex.title, message_id, now_utc()],
    )?;
    let mut stmt = conn.prepare(
        "DELETE FROM examples WHERE subscriber = ?1 AND id NOT IN
           (SELECT id FROM examples WHERE subscriber = ?1 ORDER BY id DESC LIMIT ?2)
         RETURNING title",
    )?;
    let gone = stmt.query_map(params![subscriber, MAX_EXAMPLES as i64], |r| r.get(0))?;
    gone.collect()
}

impl Store {
    /// Adds (or updates) one of the reader's "more/less like" examples, from reply `message_id`;
    /// the titles of the oldest let go to stay within [`MAX_EXAMPLES`].
    pub async fn add_example(
        &self,
        subscriber: &SubscriberEmail,
        example: &Example,
        message_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let (s, ex, id) = (
            subscriber.to_string(),
            example.clone(),
            message_id.to_string(),
        );
        self.call(move |c| add_example(c, &s, &ex, &id)).await
    }
}

pub fn examples(conn: &Connection, subscriber: &str) -> rusqlite::Result<Vec<Example>> {
    let mut stmt = conn
        .prepare("SELECT paper_id, more, title FROM examples WHERE subscriber = ?1 ORDER BY id")?;
    let rows = stmt.query_map([subscriber], |r| {
        Ok(Example {
            paper_id: r.get(0)?,
            more: r.get(1)?,
            title: r.get(2)?,
        })
    })?;
    rows.collect()
}

impl Store {
    /// The reader's "more/less like" examples, oldest first.
    pub async fn examples(&self, subscriber: &SubscriberEmail) -> anyhow::Result<Vec<Example>> {
        let s = subscriber.to_string();
        self.call(move |c| examples(c, &s)).await
    }
}

/// What a reader taught since their digest before `day` was made: "more like" and "less like"
/// examples given (or changed) since then — what the digest of `day` acknowledges, so a click
/// needs no answer of its own.
pub fn taught_since(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
) -> rusqlite::Result<Taught> {
    conn.query_row(
        "SELECT coalesce(sum(more), 0), coalesce(sum(1 - more), 0) FROM examples
         WHERE subscriber = ?1 AND created_at >= coalesce(
           (SELECT max(created_at) FROM deliveries WHERE subscriber = ?1 AND day < ?2), '')",
        params![subscriber, day.to_string()],
        |r| {
            Ok(Taught {
                more: r.get::<_, i64>(0)? as usize,
                less: r.get::<_, i64>(1)? as usize,
            })
        },
    )
}

/// "More like" and "less like" examples a reader gave in a stretch of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taught {
    pub more: usize,
    pub less: usize,
}

impl Store {
    /// See [`taught_since`].
    pub async fn taught_since(
        &self,
        subscriber: &SubscriberEmail,
        day: NaiveDate,
    ) -> anyhow::Result<Taught> {
        let s = subscriber.to_string();
        self.call(move |c| taught_since(c, &s, day)).await
    }
}

/// Removes the examples a reply added; returns how many.
pub fn remove_examples_of(
    conn: &Connection,
    subscriber: &str,
    message_id: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM examples WHERE subscriber = ?1 AND message_id = ?2",
        params![subscriber, message_id],
    )
}

impl Store {
    /// Removes the examples reply `message_id` added; returns how many.
    pub async fn remove_examples_of(
        &self,
        subscriber: &SubscriberEmail,
        message_id: &str,
    ) -> anyhow::Result<usize> {
        let (s, id) = (subscriber.to_string(), message_id.to_string());
        self.call(move |c| remove_examples_of(c, &s, &id)).await
    }
}
