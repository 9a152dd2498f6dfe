//! The admin's alerts, recorded like deliveries: written before the send, one per run (or per
//! inbox message that could not be handled), retried while the mail server refuses for now.

use rusqlite::{params, Connection};

use super::{now_utc, Store};

/// What an alert is about; at most one alert each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKey {
    /// A run that failed or degraded.
    Run(i64),
    /// An inbox message that could not be handled (its `inbound` row).
    InboxMessage(i64),
    /// A spell of a lasting problem, such as the inbox failing (its `problems` row).
    Problem(i64),
}

impl AlertKey {
    /// The SQL condition that finds this alert's row, and its value.
    fn condition(self) -> (&'static str, i64) {
        match self {
            AlertKey::Run(id) => ("run_id = ?1", id),
            AlertKey::InboxMessage(row) => ("inbox_entry = ?1", row),
            AlertKey::Problem(id) => ("problem = ?1", id),
        }
    }
}

/// Records the alert `key` as pending; `false` if there is one already.
pub fn create_pending(
    conn: &Connection,
    key: AlertKey,
    recipient: &str,
    message_id: &str,
    subject: &str,
    message: &[u8],
) -> rusqlite::Result<bool> {
    let (run, entry, problem) = match key {
        AlertKey::Run(id) => (Some(id), None, None),
        AlertKey::InboxMessage(row) => (None, Some(row), None),
        AlertKey::Problem(id) => (None, None, Some(id)),
    };
    let n = conn.execute(
        "INSERT INTO alerts (run_id, inbox_entry, problem, recipient, status, message_id, subject, message, created_at)
         VALUES (?1, ?2, ?8, ?3, 'pending', ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![run, entry, recipient, message_id, subject, message, now_utc(), problem],
    )?;
    Ok(n == 1)
}

impl Store {
    /// Records the alert `key` to `recipient` as pending; `false` if there is one already.
    pub async fn create_pending_alert(
        &self,
        key: AlertKey,
        recipient: &lettre::Address,
        message_id: &str,
        subject: &str,
        message: Vec<u8>,
    ) -> anyhow::Result<bool> {
        let (recipient, message_id, subject) = (
            recipient.clone(),
            message_id.to_string(),
            subject.to_string(),
        );
        self.call(move |c| {
            create_pending(c, key, recipient.as_ref(), &message_id, &subject, &message)
        })
        .await
    }
}

pub struct PendingAlert {
    pub key: AlertKey,
    pub recipient: String,
    pub message: Vec<u8>,
}

/// Alerts not sent yet, oldest first.
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<PendingAlert>> {
    let mut stmt = conn.prepare(
        "SELECT run_id, inbox_entry, problem, recipient, message FROM alerts WHERE status = 'pending' ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        // The table's CHECK gives every alert exactly one key.
        let key = match (
            r.get::<_, Option<i64>>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
        ) {
            (Some(run), _, _) => AlertKey::Run(run),
            (None, Some(row), _) => AlertKey::InboxMessage(row),
            (None, None, Some(id)) => AlertKey::Problem(id),
            (None, None, None) => return Ok(None),
        };
        Ok(Some(PendingAlert {
            key,
            recipient: r.get(3)?,
            message: r.get(4)?,
        }))
    })?;
    rows.filter_map(Result::transpose).collect()
}

pub fn mark_sent(conn: &Connection, key: AlertKey) -> rusqlite::Result<()> {
    let (cond, id) = key.condition();
    conn.execute(
        &format!("UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE {cond}"),
        params![id, now_utc()],
    )?;
    Ok(())
}

/// A failed attempt: still pending (retried later) unless `permanent`.
pub fn mark_failed(
    conn: &Connection,
    key: AlertKey,
    error: &str,
    permanent: bool,
) -> rusqlite::Result<()> {
    let (cond, id) = key.condition();
    conn.execute(
        &format!(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2,
                status = CASE WHEN ?3 THEN 'failed' ELSE status END
             WHERE {cond}"
        ),
        params![id, error, permanent],
    )?;
    Ok(())
}
