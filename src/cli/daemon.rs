use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::DateTime;
use chrono_tz::Tz;
use clap::Args;

use super::digest::build_app;
use super::output::{self, table};
use super::{open_store, Failure, EXIT_OK};
use crate::app::daemon;
use crate::config::Config;
use crate::store::runs::RunSummary;

/// Run as a daemon: on the schedule (and at start) make sure every recent announcement day has
/// been delivered — catching up days missed while down, oldest first — and poll the inbox for
/// replies. Stops cleanly on SIGTERM or Ctrl-C. Meant for systemd (see contrib/paperboy.service).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy run\n  paperboy --log-format json run\n  systemctl start paperboy    (with contrib/paperboy.service)"
)]
pub struct RunArgs {}

pub async fn run(config: Config, _args: RunArgs) -> Result<u8, Failure> {
    let app = build_app(config).await?;
    daemon::run(Arc::new(app)).await?;
    Ok(EXIT_OK)
}

/// The state of things: whether the daemon runs, the last runs, the next scheduled run in local
/// time, and the inbox.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  paperboy status\n  paperboy status --json")]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn status(config: Config, args: StatusArgs) -> Result<u8, Failure> {
    let store = open_store(&config)?;
    let next = next_run(&config)?;
    let daemon_pid = daemon::running_pid(&daemon::lock_path(&config));
    let recent = store.recent_runs_now(5)?;
    let (last_reply, pending) = store.inbox_status()?;
    let state = State {
        daemon_pid,
        next,
        recent,
        last_reply,
        pending,
    };
    if args.json {
        print_json(&config, &state)?;
    } else {
        print_text(&config, &state);
    }
    Ok(EXIT_OK)
}

/// What `status` reports, gathered from the lock file, the schedule and the store.
struct State {
    daemon_pid: Option<String>,
    next: Option<DateTime<Tz>>,
    recent: Vec<RunSummary>,
    last_reply: Option<String>,
    pending: i64,
}

/// The next scheduled run, in the schedule's time zone (`None`: the schedule never fires again).
fn next_run(config: &Config) -> Result<Option<DateTime<Tz>>, Failure> {
    let clock =
        crate::support::clock::Clock::from_env().map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let schedule = config
        .run_schedule()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    Ok(schedule
        .next_after(clock.now())
        .map(|t| t.with_timezone(&schedule.timezone())))
}

/// The state as one JSON object.
fn print_json(config: &Config, s: &State) -> Result<(), Failure> {
    let v = serde_json::json!({
        "daemon": s.daemon_pid.as_ref().map(|p| serde_json::json!({"pid": p})),
        "next_run": s.next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "schedule": {"cron": config.schedule.cron, "timezone": config.schedule.timezone},
        "inbox": {"configured": config.imap.is_some(), "last_message_at": s.last_reply, "answers_pending": s.pending},
        "runs": s.recent.iter().map(|r| serde_json::json!({"id": r.id, "kind": r.kind, "day": r.day, "status": r.status, "error": r.error})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The state as lines (daemon, next run, inbox) and a table of the last runs.
fn print_text(config: &Config, s: &State) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "daemon     {}",
        match &s.daemon_pid {
            Some(p) => format!("{} (pid {p})", output::status("running")),
            None => "not running".into(),
        }
    );
    let _ = writeln!(
        out,
        "next run   {}  ({} in {})",
        s.next.map_or("never".to_string(), |t| t
            .format("%a %-d %b %Y %H:%M %Z")
            .to_string()),
        config.schedule.cron,
        config.schedule.timezone
    );
    let _ = writeln!(
        out,
        "inbox      {}",
        if config.imap.is_none() {
            "not configured (replies are not read)".to_string()
        } else {
            format!(
                "last message {}, {} answers waiting to be sent",
                s.last_reply.as_deref().unwrap_or("never"),
                s.pending
            )
        }
    );
    if s.recent.is_empty() {
        let _ = writeln!(out, "\nno runs yet");
    } else {
        let _ = writeln!(out);
        let _ = write!(out, "{}", runs_table(&s.recent));
    }
}

/// The last runs as a table: id, kind, day, status, emails sent, cost, problems.
fn runs_table(recent: &[RunSummary]) -> String {
    let rows: Vec<Vec<String>> = recent
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.kind.clone(),
                r.day.clone().unwrap_or_else(|| "-".into()),
                output::status(&r.status),
                r.sent.to_string(),
                super::runs::cost(r.cost_micros, r.unpriced_calls),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["run", "kind", "day", "status", "sent", "cost", "problems"],
        &rows,
        &[0, 4, 5],
    )
}
