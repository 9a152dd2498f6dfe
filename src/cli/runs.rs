use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::output::{self, table};
use super::{read_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::domain::Money;
use crate::store::runs::{RunSummary, SubscriberOutcome};
use crate::store::Store;

/// Recent runs: day, status, papers fetched, scanned, selected, unscored, emails sent and
/// failed, tokens and cost.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy runs\n  paperboy runs --limit 50 --json\n  paperboy runs show 12"
)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub cmd: Option<RunsCmd>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCmd {
    /// One run, per subscriber.
    #[command(after_help = "Example:\n  paperboy runs show 12")]
    Show { id: i64 },
}

fn summary_json(r: &RunSummary) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "kind": r.kind, "day": r.day, "status": r.status, "dry_run": r.dry_run,
        "started_at": r.started_at, "finished_at": r.finished_at, "scorer": r.scorer,
        "papers_fetched": r.papers_fetched, "scanned": r.scanned, "selected": r.selected, "unscored": r.unscored,
        "emails_sent": r.sent, "emails_failed": r.failed,
        "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
        "cost_usd": if r.unpriced_calls > 0 { serde_json::Value::Null } else { serde_json::json!(Money::from_micros(r.cost_micros).usd()) },
        "error": r.error,
    })
}

pub(super) fn cost(micros: i64, unpriced: i64) -> String {
    // Runs report unpriced calls but not the total; any priced spend shows as "$x+unknown".
    let calls = if micros == 0 {
        unpriced as u64
    } else {
        unpriced as u64 + 1
    };
    Money::from_micros(micros).with_unknown(unpriced as u64, calls)
}

pub fn run(config: Config, args: RunsArgs) -> Result<u8, Failure> {
    let store = read_store(&config)?;
    match args.cmd {
        Some(RunsCmd::Show { id }) => show(&store, id, args.json),
        None => list(&store, args.limit, args.json),
    }
}

/// One run and what it did per subscriber (`runs show ID`).
fn show(store: &Store, id: i64, json: bool) -> Result<u8, Failure> {
    let Some(r) = store.run_summary_now(id)? else {
        return Err(Failure::usage(anyhow::anyhow!(
            "there is no run {id}; `paperboy runs` lists them"
        )));
    };
    let subs = store.run_subscriber_rows_now(id)?;
    if json {
        print_run_json(&r, &subs)?;
    } else {
        print_run_text(&r, &subs);
    }
    Ok(EXIT_OK)
}

/// One run's row of a subscriber: what it did for them, its tokens, cost in micro-dollars and
/// calls without a price.
type SubscriberRow = (SubscriberOutcome, i64, i64, i64);

/// The run as JSON: its summary with a `subscribers` array.
fn print_run_json(r: &RunSummary, subs: &[SubscriberRow]) -> Result<(), Failure> {
    let mut v = summary_json(r);
    v["subscribers"] = subs
        .iter()
        .map(|(o, tokens, micros, unpriced)| {
            serde_json::json!({
                "email": o.subscriber, "status": o.status.as_str(), "detail": o.detail, "scanned": o.scanned,
                "triage_kept": o.triage_kept, "scored": o.scored,
                "author_matches": o.author_matches, "selected": o.selected, "unscored": o.unscored, "tokens": tokens,
                "cost_usd": if *unpriced > 0 { serde_json::Value::Null } else { serde_json::json!(Money::from_micros(*micros).usd()) },
            })
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The run as text: a header of its facts, then a table of its subscribers.
fn print_run_text(r: &RunSummary, subs: &[SubscriberRow]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "run {}  {}{}  day {}  {}",
        r.id,
        r.kind,
        if r.dry_run { " (dry run)" } else { "" },
        r.day.as_deref().unwrap_or("-"),
        output::status(&r.status)
    );
    let _ = writeln!(
        out,
        "started {}  finished {}",
        r.started_at,
        r.finished_at.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "scorer  {}", r.scorer.as_deref().unwrap_or("-"));
    let _ = writeln!(
        out,
        "papers fetched {}  tokens {}  cost {}",
        r.papers_fetched.unwrap_or(0),
        output::thousands((r.prompt_tokens + r.completion_tokens) as u64),
        cost(r.cost_micros, r.unpriced_calls)
    );
    if let Some(e) = &r.error {
        let _ = writeln!(out, "problems: {e}");
    }
    if !subs.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "{}", subscribers_table(subs));
    }
}

/// A run's subscribers as a table: counts, tokens, cost, status and detail.
fn subscribers_table(subs: &[SubscriberRow]) -> String {
    let rows: Vec<Vec<String>> = subs
        .iter()
        .map(|(o, tokens, micros, unpriced)| {
            vec![
                o.subscriber.clone(),
                o.scanned.to_string(),
                o.triage_kept.map_or("-".into(), |n| n.to_string()),
                o.scored.to_string(),
                o.author_matches.to_string(),
                o.selected.to_string(),
                o.unscored.to_string(),
                output::thousands(*tokens as u64),
                cost(*micros, *unpriced),
                output::status(o.status.as_str()),
                o.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "subscriber",
            "scanned",
            "triage kept",
            "scored",
            "authors",
            "selected",
            "unscored",
            "tokens",
            "cost",
            "status",
            "detail",
        ],
        &rows,
        &[1, 2, 3, 4, 5, 6],
    )
}

/// The latest `limit` runs, newest first, as a table or a JSON array.
fn list(store: &Store, limit: usize, json: bool) -> Result<u8, Failure> {
    let list = store.recent_runs_now(limit)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list.iter().map(summary_json).collect::<Vec<_>>())
                .context("json")?
        );
        return Ok(EXIT_OK);
    }
    if list.is_empty() {
        println!("no runs yet; `paperboy digest` runs the daily job");
        return Ok(EXIT_OK);
    }
    print!("{}", runs_table(&list));
    Ok(EXIT_OK)
}

/// Runs as a table: what ran, for which day, how it went, the counts and the cost.
fn runs_table(list: &[RunSummary]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                if r.dry_run {
                    format!("{} (dry)", r.kind)
                } else {
                    r.kind.clone()
                },
                r.day.clone().unwrap_or_else(|| "-".into()),
                output::status(&r.status),
                r.papers_fetched.map_or("-".into(), |n| n.to_string()),
                r.scanned.to_string(),
                r.selected.to_string(),
                r.unscored.to_string(),
                r.sent.to_string(),
                r.failed.to_string(),
                output::thousands((r.prompt_tokens + r.completion_tokens) as u64),
                cost(r.cost_micros, r.unpriced_calls),
            ]
        })
        .collect();
    table(
        &[
            "run", "kind", "day", "status", "fetched", "scanned", "selected", "unscored", "sent",
            "failed", "tokens", "cost",
        ],
        &rows,
        &[0, 4, 5, 6, 7, 8, 9, 10, 11],
    )
}
