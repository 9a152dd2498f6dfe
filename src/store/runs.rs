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
    /// Stopped part way (shutdown, restart, a killed process): the next run finishes the day.
    Interrupted,
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
            RunStatus::Interrupted => "interrupted",
            RunStatus::NoAnnouncement => "no_announcement",
        }
    }
}

/// What a run was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The daily job (`digest`, the daemon).
    Digest,
    /// `paperboy preview`: scored and rendered, never sent.
    Preview,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Digest => "digest",
            RunKind::Preview => "preview",
        }
    }
}

pub fn start(
    conn: &Connection,
    kind: RunKind,
    dry_run: bool,
    source: &str,
    scorer: &str,
) -> rusqlite::Result<i64> {
    interrupt_dead(conn)?;
    conn.execute(
        "INSERT INTO runs (started_at, status, kind, dry_run, source, scorer, pid) VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6)",
        params![now_utc(), kind.as_str(), dry_run, source, scorer, std::process::id()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Runs left `running` by a process that no longer exists: recorded as failed, so `runs` and
/// `status` never show a dead run as going.
pub fn interrupt_dead(conn: &Connection) -> rusqlite::Result<usize> {
    let mut stmt =
        conn.prepare("SELECT id, pid FROM runs WHERE status = 'running' AND pid IS NOT NULL")?;
    let dead: Vec<i64> = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
        .filter_map(Result::ok)
        .filter(|(_, pid)| !process_alive(*pid))
        .map(|(id, _)| id)
        .collect();
    for id in &dead {
        conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?1,
                    error = coalesce(error || '; ', '') || 'interrupted: the process stopped during this run; a later run finishes the day'
             WHERE id = ?2 AND status = 'running'",
            params![now_utc(), id],
        )?;
    }
    Ok(dead.len())
}

/// Whether process `pid` exists (Linux: its /proc entry). Elsewhere every process counts as
/// alive, so nothing is marked dead by mistake.
fn process_alive(pid: i64) -> bool {
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// The day a run is for, when it is known before anything is fetched (`--date`).
pub fn for_day(conn: &Connection, run_id: i64, day: NaiveDate) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET day = ?2 WHERE id = ?1",
        params![run_id, day.to_string()],
    )?;
    Ok(())
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
        // A note recorded during the run (a fallback taken) stays, before the run's error.
        "UPDATE runs SET status = ?2, finished_at = ?4,
                error = CASE WHEN ?3 IS NULL THEN error WHEN error IS NULL THEN ?3 ELSE error || '; ' || ?3 END
         WHERE id = ?1",
        params![
            run_id,
            status.as_str(),
            error.map(|e| crate::support::redact::redact(e).into_owned()),
            now_utc()
        ],
    )?;
    Ok(())
}

/// How a run ended for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriberStatus {
    Delivered,
    AlreadyDelivered,
    Paused,
    /// Nothing matched and the reader opted out of empty-day notes.
    NothingToSend,
    /// Nothing could be scored: no mail that would look like a quiet day.
    NotScored,
    SendFailed,
    DryRun,
    /// paperboy was stopping; the next run sends it.
    Interrupted,
    /// A weekly reader between digests (their papers are scored and kept for it).
    NotDue,
    /// Every source the reader reads (bioRxiv, medRxiv) could not be read: no mail that would
    /// look like a quiet day; the next run reads the missed days and sends them.
    SourceUnavailable,
    /// Not decided yet (while the run builds the outcome).
    #[default]
    Pending,
}

impl SubscriberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Delivered => "delivered",
            SubscriberStatus::AlreadyDelivered => "already_delivered",
            SubscriberStatus::Paused => "paused",
            SubscriberStatus::NothingToSend => "nothing_to_send",
            SubscriberStatus::NotScored => "not_scored",
            SubscriberStatus::SendFailed => "send_failed",
            SubscriberStatus::DryRun => "dry_run",
            SubscriberStatus::Interrupted => "interrupted",
            SubscriberStatus::NotDue => "weekly_not_due",
            SubscriberStatus::SourceUnavailable => "source_unavailable",
            SubscriberStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> SubscriberStatus {
        match s {
            "delivered" => SubscriberStatus::Delivered,
            "already_delivered" => SubscriberStatus::AlreadyDelivered,
            "paused" => SubscriberStatus::Paused,
            "nothing_to_send" => SubscriberStatus::NothingToSend,
            "not_scored" => SubscriberStatus::NotScored,
            "send_failed" => SubscriberStatus::SendFailed,
            "dry_run" => SubscriberStatus::DryRun,
            "interrupted" => SubscriberStatus::Interrupted,
            "weekly_not_due" => SubscriberStatus::NotDue,
            "source_unavailable" => SubscriberStatus::SourceUnavailable,
            _ => SubscriberStatus::Pending,
        }
    }
}

/// What a run did for one subscriber.
#[derive(Debug, Clone, Default)]
pub struct SubscriberOutcome {
    pub subscriber: String,
    pub scanned: usize,
    /// Papers left after the title triage (`None`: no triage ran for this reader).
    pub triage_kept: Option<usize>,
    /// Papers with a verdict (stored or new).
    pub scored: usize,
    pub author_matches: usize,
    pub selected: usize,
    pub unscored: usize,
    pub status: SubscriberStatus,
    pub detail: Option<String>,
    /// What went wrong, typed (for the admin's alert and the run record's `problem` column).
    pub problem: Option<crate::domain::problem::Problem>,
}

pub fn record_subscriber(
    conn: &Connection,
    run_id: i64,
    o: &SubscriberOutcome,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO run_subscribers (run_id, subscriber, scanned, author_matches, selected, unscored, status, detail, triage_kept, scored, problem)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(run_id, subscriber) DO UPDATE SET scanned = excluded.scanned, author_matches = excluded.author_matches,
            selected = excluded.selected, unscored = excluded.unscored, status = excluded.status, detail = excluded.detail,
            triage_kept = excluded.triage_kept, scored = excluded.scored, problem = excluded.problem",
        params![
            run_id,
            o.subscriber,
            o.scanned as i64,
            o.author_matches as i64,
            o.selected as i64,
            o.unscored as i64,
            o.status.as_str(),
            o.detail,
            o.triage_kept.map(|n| n as i64),
            o.scored as i64,
            o.problem.as_ref().map(|p| p.kind.as_str())
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

/// One line of `paperboy runs`.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub id: i64,
    pub kind: String,
    pub day: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub dry_run: bool,
    pub scorer: Option<String>,
    pub papers_fetched: Option<i64>,
    pub scanned: i64,
    pub selected: i64,
    pub unscored: i64,
    pub sent: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    pub unpriced_calls: i64,
    pub error: Option<String>,
}

const SUMMARY: &str = "
    SELECT r.id, r.kind, r.day, r.started_at, r.finished_at, r.status, r.dry_run, r.scorer, r.papers_fetched,
           coalesce(s.scanned, 0), coalesce(s.selected, 0), coalesce(s.unscored, 0),
           coalesce(s.sent, 0), coalesce(s.failed, 0),
           coalesce(m.prompt, 0), coalesce(m.completion, 0), coalesce(m.cost, 0), coalesce(m.unpriced, 0), r.error
    FROM runs r
    LEFT JOIN (SELECT run_id, sum(scanned) AS scanned, sum(selected) AS selected, sum(unscored) AS unscored,
                      sum(status IN ('delivered', 'dry_run')) AS sent,
                      sum(status IN ('send_failed', 'not_scored')) AS failed
               FROM run_subscribers GROUP BY run_id) s ON s.run_id = r.id
    LEFT JOIN (SELECT run_id, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
                      sum(cost_micros) AS cost, sum(cost_micros IS NULL) AS unpriced
               FROM spend GROUP BY run_id) m ON m.run_id = r.id";

fn summary_row(r: &rusqlite::Row) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: r.get(0)?,
        kind: r.get(1)?,
        day: r.get(2)?,
        started_at: r.get(3)?,
        finished_at: r.get(4)?,
        status: r.get(5)?,
        dry_run: r.get(6)?,
        scorer: r.get(7)?,
        papers_fetched: r.get(8)?,
        scanned: r.get(9)?,
        selected: r.get(10)?,
        unscored: r.get(11)?,
        sent: r.get(12)?,
        failed: r.get(13)?,
        prompt_tokens: r.get(14)?,
        completion_tokens: r.get(15)?,
        cost_micros: r.get(16)?,
        unpriced_calls: r.get(17)?,
        error: r.get(18)?,
    })
}

/// The most recent runs, newest first.
pub fn list(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<RunSummary>> {
    let mut stmt = conn.prepare(&format!("{SUMMARY} ORDER BY r.id DESC LIMIT ?1"))?;
    let rows = stmt.query_map([limit as i64], summary_row)?;
    rows.collect()
}

pub fn summary(conn: &Connection, run_id: i64) -> rusqlite::Result<Option<RunSummary>> {
    use rusqlite::OptionalExtension as _;
    conn.query_row(&format!("{SUMMARY} WHERE r.id = ?1"), [run_id], summary_row)
        .optional()
}

/// What a run did for each subscriber, with the tokens and cost of their profile's calls.
pub fn subscriber_rows(
    conn: &Connection,
    run_id: i64,
) -> rusqlite::Result<Vec<(SubscriberOutcome, i64, i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT s.subscriber, s.scanned, s.author_matches, s.selected, s.unscored, s.status, s.detail,
                s.triage_kept, coalesce(s.scored, 0),
                coalesce((SELECT sum(prompt_tokens + completion_tokens) FROM spend p WHERE p.run_id = s.run_id AND p.subscriber = s.subscriber), 0),
                coalesce((SELECT sum(cost_micros) FROM spend p WHERE p.run_id = s.run_id AND p.subscriber = s.subscriber), 0),
                coalesce((SELECT sum(cost_micros IS NULL) FROM spend p WHERE p.run_id = s.run_id AND p.subscriber = s.subscriber), 0)
         FROM run_subscribers s WHERE s.run_id = ?1 ORDER BY s.subscriber",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        Ok((
            SubscriberOutcome {
                subscriber: r.get(0)?,
                scanned: r.get::<_, i64>(1)? as usize,
                author_matches: r.get::<_, i64>(2)? as usize,
                selected: r.get::<_, i64>(3)? as usize,
                unscored: r.get::<_, i64>(4)? as usize,
                status: SubscriberStatus::parse(&r.get::<_, String>(5)?),
                detail: r.get(6)?,
                problem: None,
                triage_kept: r.get::<_, Option<i64>>(7)?.map(|n| n as usize),
                scored: r.get::<_, i64>(8)? as usize,
            },
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
        ))
    })?;
    rows.collect()
}

/// Runs left `running` by a process that stopped (crash, SIGKILL): recorded as failed.
pub fn interrupt_stale(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE runs SET status = 'interrupted', finished_at = ?1,
                error = coalesce(error || '; ', '') || 'interrupted: the process stopped during this run; a later run finishes the day'
         WHERE status = 'running'",
        [now_utc()],
    )
}

/// Runs left `running` by this process's run that stopped in a panic: recorded as failed, with
/// `why`.
/// Every run still `running` marked failed for `why`: (run id, its day) of each.
pub fn fail_running(
    conn: &Connection,
    why: &str,
) -> rusqlite::Result<Vec<(i64, Option<NaiveDate>)>> {
    let mut stmt = conn.prepare(
        "UPDATE runs SET status = 'failed', finished_at = ?1,
                error = coalesce(error || '; ', '') || ?2
         WHERE status = 'running' RETURNING id, day",
    )?;
    let rows = stmt.query_map(
        params![now_utc(), crate::support::redact::redact(why).into_owned()],
        |r| {
            let day: Option<String> = r.get(1)?;
            Ok((r.get(0)?, day.and_then(|d| d.parse().ok())))
        },
    )?;
    rows.collect()
}

/// Whether the announcement day needs no more work: its latest digest run finished well (or
/// found no announcement), no digest of the day waits to be resent, and nobody is left unscored.
pub fn day_complete(conn: &Connection, day: NaiveDate) -> rusqlite::Result<bool> {
    use rusqlite::OptionalExtension as _;
    let d = day.to_string();
    let latest: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, status FROM runs WHERE kind = 'digest' AND dry_run = 0 AND day = ?1 ORDER BY id DESC LIMIT 1",
            [&d],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, status)) = latest else {
        return Ok(false);
    };
    match status.as_str() {
        "ok" | "no_announcement" => Ok(true),
        "degraded" => {
            let pending: i64 = conn.query_row(
                "SELECT count(*) FROM deliveries WHERE day = ?1 AND status = 'pending'",
                [&d],
                |r| r.get(0),
            )?;
            let unscored: i64 = conn.query_row(
                "SELECT count(*) FROM run_subscribers WHERE run_id = ?1 AND status IN ('not_scored', 'interrupted')",
                [id],
                |r| r.get(0),
            )?;
            Ok(pending == 0 && unscored == 0)
        }
        _ => Ok(false),
    }
}

/// The subscribers among `emails` who have nothing recorded for `day`: no digest (sent, pending or
/// failed) and no decision to send none.
pub fn uncovered(
    conn: &Connection,
    day: NaiveDate,
    emails: &[String],
) -> rusqlite::Result<Vec<String>> {
    let d = day.to_string();
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE subscriber = ?1 AND day = ?2)
             OR EXISTS (SELECT 1 FROM run_subscribers s JOIN runs r ON r.id = s.run_id
                        WHERE s.subscriber = ?1 AND r.day = ?2 AND r.dry_run = 0 AND s.status = 'nothing_to_send')",
    )?;
    let mut out = Vec::new();
    for e in emails {
        if !stmt.query_row(rusqlite::params![e, d], |r| r.get::<_, bool>(0))? {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// A run's record, step by step, as typed methods.
impl super::Store {
    /// Records a run as started; its id.
    pub async fn start_run(
        &self,
        kind: RunKind,
        dry_run: bool,
        source: &str,
        scorer: &str,
    ) -> anyhow::Result<i64> {
        let (source, scorer) = (source.to_string(), scorer.to_string());
        self.call(move |c| start(c, kind, dry_run, &source, &scorer))
            .await
    }

    /// The announcement day a run is for (known before its fetch, for `--date`).
    pub async fn run_for_day(&self, run_id: i64, day: NaiveDate) -> anyhow::Result<()> {
        self.call(move |c| for_day(c, run_id, day)).await
    }

    /// What a run fetched: its day and how many papers.
    pub async fn run_fetched(
        &self,
        run_id: i64,
        day: NaiveDate,
        papers: usize,
    ) -> anyhow::Result<()> {
        self.call(move |c| fetched(c, run_id, day, papers)).await
    }

    /// How a run ended.
    pub async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let error = error.map(str::to_string);
        self.call(move |c| finish(c, run_id, status, error.as_deref()))
            .await
    }

    /// How a run ended for one subscriber.
    pub async fn record_run_subscriber(
        &self,
        run_id: i64,
        outcome: &SubscriberOutcome,
    ) -> anyhow::Result<()> {
        let o = outcome.clone();
        self.call(move |c| record_subscriber(c, run_id, &o)).await
    }

    /// Runs left `running` by an earlier process, now marked failed; how many.
    pub async fn interrupt_stale_runs(&self) -> anyhow::Result<usize> {
        self.call(|c| interrupt_stale(c)).await
    }

    /// Notes what a run worked around (a fallback it took) in its record, beside its error.
    pub async fn note_run(&self, run_id: i64, note: &str) -> anyhow::Result<()> {
        let note = crate::support::redact::redact(note).into_owned();
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET error = coalesce(error || '; ', '') || ?2 WHERE id = ?1",
                params![run_id, note],
            )
            .map(|_| ())
        })
        .await
    }

    /// [`fail_running`].
    pub async fn fail_running_runs(
        &self,
        why: &str,
    ) -> anyhow::Result<Vec<(i64, Option<NaiveDate>)>> {
        let why = why.to_string();
        self.call(move |c| fail_running(c, &why)).await
    }

    /// The earliest announcement day any run was for (`None`: a new store). The daemon never
    /// catches up days before it: a fresh install starts with today.
    pub async fn first_run_day(&self) -> anyhow::Result<Option<NaiveDate>> {
        let day: Option<String> = self
            .call(|c| c.query_row("SELECT min(day) FROM runs WHERE day IS NOT NULL AND kind = 'digest' AND dry_run = 0", [], |r| r.get(0)))
            .await?;
        Ok(day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// Whether `day` has a finished digest run that left nobody out.
    pub async fn day_complete(&self, day: NaiveDate) -> anyhow::Result<bool> {
        self.call(move |c| day_complete(c, day)).await
    }

    /// Which of `subscribers` have nothing recorded for `day`: no digest (sent, pending or
    /// failed) and no decision to send none.
    pub async fn uncovered_subscribers(
        &self,
        day: NaiveDate,
        subscribers: &[crate::domain::SubscriberEmail],
    ) -> anyhow::Result<Vec<crate::domain::SubscriberEmail>> {
        let emails: Vec<String> = subscribers.iter().map(|s| s.to_string()).collect();
        let missing = self.call(move |c| uncovered(c, day, &emails)).await?;
        Ok(subscribers
            .iter()
            .filter(|s| missing.iter().any(|m| m == s.as_str()))
            .cloned()
            .collect())
    }

    /// The latest `limit` runs, newest first.
    pub fn recent_runs_now(&self, limit: usize) -> anyhow::Result<Vec<RunSummary>> {
        self.with(|c| list(c, limit))
    }

    /// Run `run_id`, if there is one.
    pub fn run_summary_now(&self, run_id: i64) -> anyhow::Result<Option<RunSummary>> {
        self.with(|c| summary(c, run_id))
    }

    /// What run `run_id` did for each subscriber.
    pub fn run_subscriber_rows_now(
        &self,
        run_id: i64,
    ) -> anyhow::Result<Vec<(SubscriberOutcome, i64, i64, i64)>> {
        self.with(|c| subscriber_rows(c, run_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_run_whose_process_died_is_failed_by_the_next_one_and_a_live_one_is_left() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                // A process that cannot exist (above Linux's pid_max), and this one.
                c.execute(
                    "INSERT INTO runs (started_at, status, kind, dry_run, source, scorer, pid) VALUES ('2025-03-28T06:30:00Z', 'running', 'digest', 0, 'arXiv RSS', 'x', 99999999)",
                    [],
                )?;
                let mine = start(c, RunKind::Digest, false, "arXiv RSS", "x")?;
                let status = |id: i64| -> rusqlite::Result<String> {
                    c.query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
                };
                assert_eq!(status(1)?, "interrupted");
                assert_eq!(status(mine)?, "running");
                start(c, RunKind::Digest, false, "arXiv RSS", "x")?;
                assert_eq!(status(mine)?, "running", "this process is alive");
                Ok(())
            })
            .unwrap();
    }
}
