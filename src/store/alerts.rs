//! The admin's alerts, recorded like deliveries: written before the send, one per run, retried
//! while the mail server refuses for now. A run's alert is keyed by the run's id; an inbox
//! message that could not be handled by its inbox entry's row number, negated.

use rusqlite::{params, Connection};

use super::now_utc;

/// Records the alert of `run_id` as pending; `false` if that run already has one.
pub fn create_pending(
    conn: &Connection,
    run_id: i64,
    recipient: &str,
    message_id: &str,
    subject: &str,
    message: &[u8],
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT INTO alerts (run_id, recipient, status, message_id, subject, message, created_at)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6) ON CONFLICT(run_id) DO NOTHING",
        params![run_id, recipient, message_id, subject, message, now_utc()],
    )?;
    Ok(n == 1)
}

pub struct PendingAlert {
    pub run_id: i64,
    pub recipient: String,
    pub message: Vec<u8>,
}

/// Alerts not sent yet, oldest first.
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<PendingAlert>> {
    let mut stmt = conn.prepare(
        "SELECT run_id, recipient, message FROM alerts WHERE status = 'pending' ORDER BY run_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PendingAlert {
            run_id: r.get(0)?,
            recipient: r.get(1)?,
            message: r.get(2)?,
        })
    })?;
    rows.collect()
}

pub fn mark_sent(conn: &Connection, run_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE run_id = ?1",
        params![run_id, now_utc()],
    )?;
    Ok(())
}

/// A failed attempt: still pending (retried later) unless `permanent`.
pub fn mark_failed(
    conn: &Connection,
    run_id: i64,
    error: &str,
    permanent: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE alerts SET attempts = attempts + 1, last_error = ?2,
                status = CASE WHEN ?3 THEN 'failed' ELSE status END
         WHERE run_id = ?1",
        params![run_id, error, permanent],
    )?;
    Ok(())
}

/// (status, attempts, last error) of a run's alert, for reports and tests.
pub fn get(
    conn: &Connection,
    run_id: i64,
) -> rusqlite::Result<Option<(String, i64, Option<String>)>> {
    use rusqlite::OptionalExtension as _;
    conn.query_row(
        "SELECT status, attempts, last_error FROM alerts WHERE run_id = ?1",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}
