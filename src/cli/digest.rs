use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;

use super::output::Bar;
use super::{parse_date, Failure, EXIT_FAILED, EXIT_OK};
use crate::app::{App, StartError};
use crate::config::Config;
use crate::pipeline::{self, DigestOptions, RunReport};
use crate::store::runs::RunStatus;
use crate::store::runs::SubscriberStatus;
use crate::subscribers;

/// Run the whole pipeline once: fetch the day's announcement, score it for every subscriber,
/// record the spend and mail each subscriber their digest.
///
/// With [biorxiv] or [medrxiv] configured, each of their subjects is read beside arXiv from the
/// day after its last complete read through the day before the run's day; a server that cannot
/// be read fails the run (exit 1) for its readers only and is read again next time.
///
/// Prints one line per subscriber: papers scanned, selected, tokens, cost, and whether the digest
/// was delivered (or why not). A subscriber gets at most one digest per announcement day, so
/// running it again the same day sends nothing new and costs no tokens.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy digest\n  paperboy digest --dry-run\n  paperboy digest --date 2025-03-28\n  paperboy digest --feed saved-feed.xml --json\n  paperboy digest --date 2025-03-28 --only ada@lab.org --again   send Ada that day again (after fixing her topics)"
)]
pub struct DigestArgs {
    /// A past announcement day (YYYY-MM-DD, Monday to Friday, not in the future), fetched from
    /// the arXiv API instead of today's RSS.
    #[arg(long, value_parser = parse_date, conflicts_with = "feed")]
    pub date: Option<NaiveDate>,

    /// Run for this subscriber only.
    #[arg(long, value_name = "EMAIL")]
    pub only: Option<String>,

    /// With --date and --only: send that day again even though it was delivered (the earlier
    /// digest is kept in the store; its papers may be sent again).
    #[arg(long, requires_all = ["only", "date"])]
    pub again: bool,

    /// Write the emails to the outbox whatever the transport, and record no deliveries.
    #[arg(long)]
    pub dry_run: bool,

    /// Read the announcement from a saved arXiv RSS file instead of the network.
    #[arg(long, value_name = "FILE")]
    pub feed: Option<PathBuf>,

    /// Print the run report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn build_app(config: Config) -> Result<App, Failure> {
    build_app_with(config, crate::app::StoreAccess::Write).await
}

/// The application for a command that only reads the store (never creates or migrates it).
pub async fn build_reader(config: Config) -> Result<App, Failure> {
    build_app_with(config, crate::app::StoreAccess::Read).await
}

async fn build_app_with(config: Config, access: crate::app::StoreAccess) -> Result<App, Failure> {
    App::build_with(config, access).await.map_err(|e| match e {
        StartError::Config(e) => Failure::usage(e),
        StartError::Other(e) => Failure::from(e),
    })
}

pub async fn run(config: Config, args: DigestArgs) -> Result<u8, Failure> {
    let subs_path = config.resolve(&config.subscribers);
    let subscribers = subscribers::load(
        &subs_path,
        &config.resolve(&config.prompts),
        &config.categories(),
    )
    .map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "{}\nNothing was sent: fix the file and run again.",
            e.to_string().trim_end()
        ))
    })?;
    if let Some(feed) = &args.feed {
        if !feed.is_file() {
            return Err(Failure::usage(anyhow::anyhow!(
                "--feed {}: no such file (give a saved arXiv RSS feed)",
                feed.display()
            )));
        }
    }
    let clock =
        crate::support::clock::Clock::from_env().map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    if let Some(day) = args.date {
        check_day(day, clock.now().date_naive()).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    }
    let subscribers = match &args.only {
        None => subscribers,
        Some(email) => {
            let wanted = email.trim().to_lowercase();
            let one: Vec<_> = subscribers
                .into_iter()
                .filter(|s| s.email.as_str() == wanted)
                .collect();
            if one.is_empty() {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--only {email}: no such subscriber in {} (`paperboy subscribers list` shows them)",
                    subs_path.display()
                )));
            }
            one
        }
    };
    if args.again && (args.date.is_none() || args.only.is_none()) {
        return Err(Failure::usage(anyhow::anyhow!(
            "--again sends one reader one past day again: give --date YYYY-MM-DD and --only EMAIL"
        )));
    }
    let app = build_app(config).await?;
    let opts = DigestOptions {
        date: args.date,
        dry_run: args.dry_run,
        feed: args.feed,
        again: args.again,
    };
    let _runs = app.hold_runs("paperboy digest").await?;
    let bar = Bar::new(!args.json, "scoring");
    // A panic inside the run fails it (never left `running`) and alerts, as in the daemon.
    let run = std::panic::AssertUnwindSafe(pipeline::run_digest(&app, &subscribers, &opts, &bar));
    let report = match futures::FutureExt::catch_unwind(run).await {
        Ok(report) => report.context("the digest run stopped")?,
        Err(panic) => {
            let why = crate::app::panicked(&*panic);
            app.fail_after_panic(&why).await;
            return Err(anyhow::anyhow!(why).into());
        }
    };
    // A dry run is the admin at the terminal: the report is the alert.
    if !opts.dry_run {
        app.alert_after(&report).await?;
        app.tidy_store(&report).await;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&report)).context("json")?
        );
    } else {
        print_report(&report);
    }
    Ok(if report.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// A day arXiv could have announced: not in the future, Monday to Friday.
fn check_day(day: NaiveDate, today: NaiveDate) -> Result<(), String> {
    use chrono::Datelike as _;
    if day > today {
        return Err(format!(
            "--date {day} is in the future (today is {today}); arXiv has not announced it yet"
        ));
    }
    if matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
        return Err(format!(
            "--date {day} is a {}: arXiv announces Monday to Friday",
            day.format("%A")
        ));
    }
    Ok(())
}

fn print_report(r: &RunReport) {
    let mut out = std::io::stdout().lock();
    let day = r.day.map_or("-".to_string(), |d| d.to_string());
    let _ = writeln!(
        out,
        "run {}  day {}  {} papers fetched  status {}  scorer: {}",
        r.run_id,
        day,
        r.papers_fetched,
        r.status.as_str(),
        r.scorer
    );
    match r.status {
        RunStatus::NoAnnouncement => {
            let _ = writeln!(out, "no announcement on {day} (arXiv publishes nothing on weekends and holidays): nothing to do");
        }
        RunStatus::Failed if r.subscribers.is_empty() => {
            let _ = writeln!(
                out,
                "failed: {}",
                r.error.as_deref().unwrap_or("unknown error")
            );
        }
        _ => {}
    }
    let width = r
        .subscribers
        .iter()
        .map(|s| s.outcome.subscriber.len())
        .max()
        .unwrap_or(0);
    for s in &r.subscribers {
        let o = &s.outcome;
        let cost = if s.cost_unknown() {
            format!("{}+unknown", s.cost())
        } else {
            s.cost().to_string()
        };
        let status = o.status.as_str().replace('_', " ");
        let what = match (o.status, &s.delivered_to, &o.detail) {
            (SubscriberStatus::Delivered, Some(to), _) => format!("delivered → {to}"),
            (SubscriberStatus::DryRun, Some(to), _) => format!("dry run → {to}"),
            (_, _, Some(detail)) => format!("{status} ({detail})"),
            (_, _, None) => status,
        };
        let unscored = if o.unscored > 0 {
            format!("  unscored {}", o.unscored)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<width$}  scanned {:>4}  selected {:>3}{unscored}  tokens {:>8}  {:>9}  {what}",
            o.subscriber,
            o.scanned,
            o.selected,
            s.tokens(),
            cost,
        );
    }
}

fn report_json(r: &RunReport) -> serde_json::Value {
    serde_json::json!({
        "run_id": r.run_id,
        "day": r.day.map(|d| d.to_string()),
        "status": r.status.as_str(),
        "papers_fetched": r.papers_fetched,
        "scorer": r.scorer,
        "error": r.error,
        "problem": r.problem.as_ref().map(|p| p.kind.as_str()),
        "subscribers": r.subscribers.iter().map(|s| serde_json::json!({
            "email": s.outcome.subscriber,
            "status": s.outcome.status.as_str(),
            "detail": s.outcome.detail,
            "problem": s.outcome.problem.as_ref().map(|p| p.kind.as_str()),
            "scanned": s.outcome.scanned,
            "author_matches": s.outcome.author_matches,
            "selected": s.outcome.selected,
            "unscored": s.outcome.unscored,
            "tokens": s.tokens(),
            "cost_usd": if s.cost_unknown() { serde_json::Value::Null } else { serde_json::json!(s.cost().usd()) },
            "delivered_to": s.delivered_to,
        })).collect::<Vec<_>>(),
    })
}
