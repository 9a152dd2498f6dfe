use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::DateTime;
use chrono_tz::Tz;
use clap::Args;

use super::digest::build_app;
use super::output::{self, table};
use super::{read_store, Failure, EXIT_OK};
use crate::app::daemon;
use crate::config::Config;
use crate::store::runs::RunSummary;

/// Run as a daemon: on the schedule (and at start) make sure every recent announcement day has
/// been delivered — catching up days missed while down, oldest first — and poll the inbox for
/// replies. Stops cleanly on SIGTERM or Ctrl-C; SIGHUP reads the configuration and the
/// subscribers file again. A store at an older schema is backed up, then migrated. Meant for
/// systemd (see contrib/paperboy.service).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy run\n  paperboy --log-format json run\n  systemctl start paperboy    (with contrib/paperboy.service)\n  systemctl reload paperboy   (SIGHUP: read the configuration again)"
)]
pub struct RunArgs {}

pub async fn run(config: Config, _args: RunArgs) -> Result<u8, Failure> {
    let app = build_app(config).await?;
    daemon::run(Arc::new(app)).await?;
    Ok(EXIT_OK)
}

/// The state of things: whether the daemon runs, the last runs, the next scheduled run in local
/// time, the inbox and the alerts. The exit code says what needs attention, for scripts and
/// monitoring: 0 all is well, 3 the daemon is not running, 4 the last run failed, 5 the last run
/// was degraded, 6 the inbox is failing, 7 an alert could not be sent (the lowest applies; the
/// JSON lists them all). Never creates or migrates the store.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy status\n  paperboy status --json\n  paperboy status >/dev/null || echo \"paperboy needs attention (exit $?)\"\n\nExit codes: 0 all is well, 2 bad configuration or store, 3 daemon not running, 4 last run failed,\n5 last run degraded, 6 inbox failing, 7 an alert could not be sent, 8 the metrics endpoint\ncannot accept connections."
)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn status(config: Config, args: StatusArgs) -> Result<u8, Failure> {
    let store_path = config.resolve(&config.store.path);
    let store = read_store(&config)?;
    let next = next_run(&config)?;
    let daemon_pid = daemon::running_pid(&daemon::lock_path(&config));
    let recent = store.recent_runs_now(5)?;
    let (last_reply, pending) = store.inbox_status()?;
    // The inbox and the webhook count while the configuration names them.
    let health = store.health_now()?;
    let find =
        |s: crate::store::health::Service| health.iter().find(|h| h.service == s.as_str()).cloned();
    let inbox = find(crate::store::health::Service::Inbox).filter(|_| config.imap.is_some());
    let webhook =
        find(crate::store::health::Service::Webhook).filter(|_| config.admin.webhook.is_some());
    let metrics = find(crate::store::health::Service::Metrics).filter(|_| config.metrics.is_some());
    let unsent_alerts = store.unsent_alerts_now()?;
    let state = State {
        store_exists: store_path.exists(),
        daemon_pid,
        next,
        recent,
        last_reply,
        pending,
        inbox,
        webhook,
        metrics,
        unsent_alerts,
    };
    let attention = state.attention();
    if args.json {
        print_json(&config, &state, &attention)?;
    } else {
        print_text(&config, &state, &attention);
    }
    Ok(attention.first().map_or(EXIT_OK, |a| a.code))
}

/// Something `status` says needs attention, with its exit code.
struct Attention {
    code: u8,
    what: String,
}

pub const STATUS_NOT_RUNNING: u8 = 3;
pub const STATUS_RUN_FAILED: u8 = 4;
pub const STATUS_RUN_DEGRADED: u8 = 5;
pub const STATUS_INBOX_FAILING: u8 = 6;
pub const STATUS_ALERT_UNSENT: u8 = 7;
pub const STATUS_METRICS_FAILING: u8 = 8;

impl State {
    /// What needs attention, most serious first (its code is the exit code).
    fn attention(&self) -> Vec<Attention> {
        let mut a = Vec::new();
        if self.daemon_pid.is_none() {
            a.push(Attention {
                code: STATUS_NOT_RUNNING,
                what: "the daemon is not running".into(),
            });
        }
        // The last run that did something (a day without an announcement is fine).
        if let Some(r) = self.recent.first() {
            let what = |how: &str| {
                format!(
                    "run {} ({}) {how}{}",
                    r.id,
                    r.day.as_deref().unwrap_or("-"),
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )
            };
            match r.status.as_str() {
                "failed" => a.push(Attention {
                    code: STATUS_RUN_FAILED,
                    what: what("failed"),
                }),
                "degraded" => a.push(Attention {
                    code: STATUS_RUN_DEGRADED,
                    what: what("was degraded"),
                }),
                _ => {}
            }
        }
        if let Some(h) = self.inbox.as_ref().filter(|h| h.failing > 0) {
            a.push(Attention {
                code: STATUS_INBOX_FAILING,
                what: format!(
                    "the inbox failed {} time{} in a row (last at {}): {}",
                    h.failing,
                    if h.failing == 1 { "" } else { "s" },
                    h.failed_at.as_deref().unwrap_or("-"),
                    h.error.as_deref().unwrap_or("-")
                ),
            });
        }
        if let Some(h) = self.webhook.as_ref().filter(|h| h.failing > 0) {
            a.push(Attention {
                code: STATUS_ALERT_UNSENT,
                what: format!(
                    "the webhook failed the last alert: {}",
                    h.error.as_deref().unwrap_or("-")
                ),
            });
        }
        if let Some(h) = self.metrics.as_ref().filter(|h| h.failing > 0) {
            a.push(Attention {
                code: STATUS_METRICS_FAILING,
                what: format!(
                    "the metrics endpoint cannot accept connections (since {}): {}",
                    h.failed_at.as_deref().unwrap_or("-"),
                    h.error.as_deref().unwrap_or("-")
                ),
            });
        }
        if self.unsent_alerts > 0 {
            a.push(Attention {
                code: STATUS_ALERT_UNSENT,
                what: format!(
                    "{} alert{} could not be sent to the admin (`paperboy deliveries --failed`)",
                    self.unsent_alerts,
                    if self.unsent_alerts == 1 { "" } else { "s" }
                ),
            });
        }
        a
    }
}

/// What `status` reports, gathered from the lock file, the schedule and the store.
struct State {
    store_exists: bool,
    daemon_pid: Option<String>,
    next: Option<DateTime<Tz>>,
    recent: Vec<RunSummary>,
    last_reply: Option<String>,
    pending: i64,
    inbox: Option<crate::store::health::ServiceHealth>,
    webhook: Option<crate::store::health::ServiceHealth>,
    /// The `/metrics` endpoint, while `[metrics]` is configured.
    metrics: Option<crate::store::health::ServiceHealth>,
    unsent_alerts: i64,
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
fn print_json(config: &Config, s: &State, attention: &[Attention]) -> Result<(), Failure> {
    let v = serde_json::json!({
        "exit_code": attention.first().map_or(EXIT_OK, |a| a.code),
        "attention": attention.iter().map(|a| serde_json::json!({"code": a.code, "what": a.what})).collect::<Vec<_>>(),
        "store": {"path": config.resolve(&config.store.path), "exists": s.store_exists, "schema": crate::store::schema::SCHEMA_VERSION},
        "alerts_unsent": s.unsent_alerts,
        "daemon": s.daemon_pid.as_ref().map(|p| serde_json::json!({"pid": p})),
        "next_run": s.next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "schedule": {"cron": config.schedule.cron, "timezone": config.schedule.timezone},
        "inbox": {"configured": config.imap.is_some(), "last_message_at": s.last_reply, "answers_pending": s.pending, "health": s.inbox},
        "metrics": {"configured": config.metrics.is_some(), "listen": config.metrics.as_ref().map(|m| m.listen.to_string()), "health": s.metrics},
        "runs": s.recent.iter().map(|r| serde_json::json!({"id": r.id, "kind": r.kind, "day": r.day, "status": r.status, "error": r.error})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The state as lines (daemon, next run, inbox) and a table of the last runs.
fn print_text(config: &Config, s: &State, attention: &[Attention]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        if attention.is_empty() {
            format!("{}: all is well", output::status("ok"))
        } else {
            format!(
                "needs attention: {}",
                attention
                    .iter()
                    .map(|a| format!(
                        "{} [{}]",
                        crate::support::text::for_terminal(&a.what),
                        a.code
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    if !s.store_exists {
        let _ = writeln!(
            out,
            "store      none at {} (is --config right? the daemon's first run creates it)",
            config.resolve(&config.store.path).display()
        );
    }
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
    if let Some(m) = &config.metrics {
        let _ = writeln!(
            out,
            "metrics    http://{}/metrics{}",
            m.listen,
            match s.metrics.as_ref().filter(|h| h.failing > 0) {
                Some(h) => format!(
                    ", {} since {}",
                    output::status("failed"),
                    h.failed_at.as_deref().unwrap_or("-")
                ),
                None => String::new(),
            }
        );
    }
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

/// Asks the running daemon to read its configuration and subscribers file again (SIGHUP, as
/// `systemctl reload paperboy` does). A configuration that drops a protection the daemon runs
/// with — `[subscribe] allowed_domains`, a `[budget]` limit, `[imap] authserv_id` — is refused
/// (a file saved half way looks just like that) unless `--accept` vouches for the file exactly
/// as it is now. The daemon's log says what it took and what changed.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy reload\n  paperboy reload --accept    # the file drops [budget] daily_usd on purpose\n\nExit codes: 0 the daemon was asked, 1 no daemon is running."
)]
pub struct ReloadArgs {
    /// Take the configuration file as it is now, even where it drops a protection.
    #[arg(long)]
    pub accept: bool,
}

pub fn reload(config: Config, args: ReloadArgs) -> Result<u8, Failure> {
    let lock = crate::app::daemon::lock_path(&config);
    let pid = crate::app::daemon::running_pid(&lock)
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no paperboy daemon holds {}: nothing to reload (start it with `paperboy run`)",
                lock.display()
            )
        })?;
    let file = config.source.as_ref().map_or_else(
        || "the built-in defaults".to_string(),
        |p| p.display().to_string(),
    );
    if args.accept {
        let path = crate::app::reload::accept_path(&config);
        let hash = crate::app::reload::text_hash(config.source_text.as_deref().unwrap_or(""));
        std::fs::write(&path, hash)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).map_err(|e| {
        anyhow::anyhow!(
            "cannot signal the daemon (pid {}): {e}",
            pid.as_raw_nonzero()
        )
    })?;
    println!(
        "Asked the daemon (pid {}) to read {file} again{}; its log says what it took.",
        pid.as_raw_nonzero(),
        if args.accept {
            ", as it is now, protections dropped or not"
        } else {
            ""
        }
    );
    Ok(EXIT_OK)
}
