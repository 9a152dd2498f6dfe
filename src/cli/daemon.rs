use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use super::digest::build_app;
use super::output::{self, table};
use super::{open_store, Failure, EXIT_OK};
use crate::app::daemon;
use crate::config::schedule::Schedule;
use crate::config::Config;
use crate::store::runs;

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
    let clock =
        crate::support::clock::Clock::from_env().map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let schedule = Schedule::parse(&config.schedule.cron, &config.schedule.timezone)
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let next = schedule
        .next_after(clock.now())
        .map(|t| t.with_timezone(&schedule.timezone()));
    let daemon_pid = daemon::running_pid(&daemon::lock_path(&config));
    let recent = store.with(|c| runs::list(c, 5))?;
    let (last_reply, pending): (Option<String>, i64) = store.with(|c| {
        Ok((
            c.query_row("SELECT max(received_at) FROM inbound", [], |r| r.get(0))?,
            c.query_row(
                "SELECT count(*) FROM inbound WHERE reply_status = 'pending'",
                [],
                |r| r.get(0),
            )?,
        ))
    })?;
    if args.json {
        let v = serde_json::json!({
            "daemon": daemon_pid.as_ref().map(|p| serde_json::json!({"pid": p})),
            "next_run": next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "schedule": {"cron": config.schedule.cron, "timezone": config.schedule.timezone},
            "inbox": {"configured": config.imap.is_some(), "last_message_at": last_reply, "answers_pending": pending},
            "runs": recent.iter().map(|r| serde_json::json!({"id": r.id, "kind": r.kind, "day": r.day, "status": r.status, "error": r.error})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "daemon     {}",
        match &daemon_pid {
            Some(p) => format!("{} (pid {p})", output::status("running")),
            None => "not running".into(),
        }
    );
    let _ = writeln!(
        out,
        "next run   {}  ({} in {})",
        next.map_or("never".to_string(), |t| t
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
                "last message {}, {pending} answers waiting to be sent",
                last_reply.as_deref().unwrap_or("never")
            )
        }
    );
    if recent.is_empty() {
        let _ = writeln!(out, "\nno runs yet");
    } else {
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
        let _ = writeln!(out);
        let _ = write!(
            out,
            "{}",
            table(
                &["run", "kind", "day", "status", "sent", "cost", "problems"],
                &rows,
                &[0, 4, 5]
            )
        );
    }
    Ok(EXIT_OK)
}
