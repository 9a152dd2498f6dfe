//! Libraries sent by reply, waiting for the reader's "yes".

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
