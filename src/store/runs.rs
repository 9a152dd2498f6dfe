use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::now_utc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    /// Everything scored and delivered.
    Ok,
    /// Delivered, but something was missing (unscored papers, a failed send).
    Degraded,
    /// The run could not do its job (feed unreachable, nothing could be scored or sent).
    Failed,
    /// arXiv announced nothing that day.
    NoAnnouncement,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Degraded => "degraded",
            RunStatus::Failed => "failed",
            RunStatus::NoAnnouncement => "no_announcement",
        }
    }
}

pub fn start(
    conn: &Connection,
    dry_run: bool,
    source: &str,
    scorer: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO runs (started_at, status, dry_run, source, scorer) VALUES (?1, 'running', ?2, ?3, ?4)",
        params![now_utc(), dry_run, source, scorer],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn fetched(
    conn: &Connection,
    run_id: i64,
    day: NaiveDate,
    papers: usize,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET day = ?2, papers_fetched = ?3 WHERE id = ?1",
        params![run_id, day.to_string(), papers as i64],
    )?;
    Ok(())
}

pub fn finish(
    conn: &Connection,
    run_id: i64,
    status: RunStatus,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
        params![run_id, status.as_str(), error, now_utc()],
    )?;
    Ok(())
}

/// What a run did for one subscriber.
#[derive(Debug, Clone, Default)]
pub struct SubscriberOutcome {
    pub subscriber: String,
    pub scanned: usize,
    pub author_matches: usize,
    pub selected: usize,
    pub unscored: usize,
    /// `delivered`, `already_delivered`, `paused`, `nothing_to_send`, `not_scored`, `send_failed`, `dry_run`.
    pub status: String,
    pub detail: Option<String>,
}

pub fn record_subscriber(
    conn: &Connection,
    run_id: i64,
    o: &SubscriberOutcome,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO run_subscribers (run_id, subscriber, scanned, author_matches, selected, unscored, status, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(run_id, subscriber) DO UPDATE SET scanned = excluded.scanned, author_matches = excluded.author_matches,
            selected = excluded.selected, unscored = excluded.unscored, status = excluded.status, detail = excluded.detail",
        params![
            run_id,
            o.subscriber,
            o.scanned as i64,
            o.author_matches as i64,
            o.selected as i64,
            o.unscored as i64,
            o.status,
            o.detail
        ],
    )?;
    Ok(())
}

/// A run as stored (for reports and tests).
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub day: Option<String>,
    pub status: String,
    pub papers_fetched: Option<i64>,
    pub error: Option<String>,
}

pub fn get(conn: &Connection, run_id: i64) -> rusqlite::Result<RunRow> {
    conn.query_row(
        "SELECT id, day, status, papers_fetched, error FROM runs WHERE id = ?1",
        [run_id],
        |r| {
            Ok(RunRow {
                id: r.get(0)?,
                day: r.get(1)?,
                status: r.get(2)?,
                papers_fetched: r.get(3)?,
                error: r.get(4)?,
            })
        },
    )
}
