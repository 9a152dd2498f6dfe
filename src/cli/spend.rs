use std::io::Write as _;

use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use clap::{Args, ValueEnum};

use super::output::{self, table};
use super::{parse_date, read_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::domain::Money;
use crate::store::spend::{self, Group, GroupBy, Totals};

/// What the model calls cost: tokens (prompt, cached, completion) and dollars from the SQLite
/// ledger, with totals and a chart of daily cost. Calls to models without a price are counted
/// and shown as "unknown", never as $0.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy spend                          the last 30 days, by day\n  paperboy spend --since 2026-11-01 --by subscriber\n  paperboy spend --by model --json"
)]
pub struct SpendArgs {
    /// First day (YYYY-MM-DD, UTC) [default: 29 days before --until].
    #[arg(long, value_parser = parse_date)]
    pub since: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD, UTC) [default: today].
    #[arg(long, value_parser = parse_date)]
    pub until: Option<NaiveDate>,
    /// How to group the rows.
    #[arg(long, value_enum, default_value = "day")]
    pub by: By,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    Day,
    Subscriber,
    Model,
}

pub fn run(config: Config, args: SpendArgs) -> Result<u8, Failure> {
    let (since, until) = period(&args)?;
    let by = match args.by {
        By::Day => GroupBy::Day,
        By::Subscriber => GroupBy::Subscriber,
        By::Model => GroupBy::Model,
    };
    let store = read_store(&config)?;
    let groups = store.spend_report_now(since, until, by)?;
    let daily = store.spend_report_now(since, until, GroupBy::Day)?;
    let report = Report {
        since,
        until,
        by: args.by,
        totals: spend::sum(&groups),
        groups,
        days: every_day(&daily, since, until),
    };
    if args.json {
        print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(EXIT_OK)
}

/// The spend of one period, grouped, with its totals and the cost of each day.
struct Report {
    since: NaiveDate,
    until: NaiveDate,
    by: By,
    groups: Vec<Group>,
    totals: Totals,
    /// One value per day of the period, zero on days without calls.
    days: Vec<(NaiveDate, Money)>,
}

/// The days asked for: `--until` (default today, UTC) and `--since` (default 29 days before);
/// a usage error when they are the wrong way round.
fn period(args: &SpendArgs) -> Result<(NaiveDate, NaiveDate), Failure> {
    let until = args
        .until
        .unwrap_or_else(|| crate::support::clock::now_utc().date_naive());
    let since = args.since.unwrap_or(until - Duration::days(29));
    if since > until {
        return Err(Failure::usage(anyhow::anyhow!(
            "--since {since} is after --until {until}"
        )));
    }
    Ok((since, until))
}

/// The cost of every day from `since` to `until`, zero on days without calls.
fn every_day(daily: &[Group], since: NaiveDate, until: NaiveDate) -> Vec<(NaiveDate, Money)> {
    let mut days = Vec::new();
    let mut d = since;
    while d <= until {
        let cost = daily
            .iter()
            .find(|g| g.key == d.to_string())
            .map_or(Money::ZERO, |g| g.totals.cost);
        days.push((d, cost));
        d += Duration::days(1);
    }
    days
}

/// One group's totals as JSON; the cost is unknown (null) when any call has no price.
fn totals_json(key: &str, t: &Totals) -> serde_json::Value {
    serde_json::json!({
        "key": key, "calls": t.calls, "prompt_tokens": t.prompt_tokens, "cached_tokens": t.cached_tokens,
        "completion_tokens": t.completion_tokens,
        // Unknown when any call has no price, as in every JSON output; the priced part is apart.
        "cost_usd": if t.unpriced_calls == 0 { serde_json::json!(t.cost.usd()) } else { serde_json::Value::Null },
        "priced_cost_usd": t.cost.usd(), "unpriced_calls": t.unpriced_calls,
        "cost_complete": t.unpriced_calls == 0,
    })
}

/// The report as one JSON object: the period, the groups, the totals and the daily costs.
fn print_json(r: &Report) -> Result<(), Failure> {
    let v = serde_json::json!({
        "since": r.since.to_string(),
        "until": r.until.to_string(),
        "by": format!("{:?}", r.by).to_lowercase(),
        "groups": r.groups.iter().map(|g| totals_json(&g.key, &g.totals)).collect::<Vec<_>>(),
        "totals": totals_json("total", &r.totals),
        "daily_cost_usd": r.days.iter().map(|(d, c)| serde_json::json!({"day": d.to_string(), "cost_usd": c.usd()})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The report as text: the period, a table of the groups and their total, a note on unpriced
/// calls, and a chart of the daily cost.
fn print_text(r: &Report) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "spend {} … {}\n", r.since, r.until);
    if r.groups.is_empty() {
        let _ = writeln!(out, "no model calls in this period");
        return;
    }
    let _ = write!(out, "{}", groups_table(r));
    if r.totals.unpriced_calls > 0 {
        let _ = writeln!(
            out,
            "\n{} calls used a model without a known price; their cost is not in the totals. Add it under [llm.prices] in paperboy.toml.",
            r.totals.unpriced_calls
        );
    }
    let values: Vec<f64> = r.days.iter().map(|(_, c)| c.usd()).collect();
    let (max_day, max_cost) = r
        .days
        .iter()
        .max_by_key(|(_, c)| *c)
        .copied()
        .unwrap_or((r.since, Money::ZERO));
    let _ = writeln!(
        out,
        "\ndaily cost  {}  |{}|  {}",
        r.since.format("%m-%d"),
        output::sparkline(&values),
        r.until.format("%m-%d")
    );
    let _ = writeln!(out, "            peak {max_cost} on {max_day}");
}

/// The groups and a bold total row as a table of calls, tokens and cost.
fn groups_table(r: &Report) -> String {
    let fmt = |key: String, t: &Totals| {
        vec![
            key,
            output::thousands(t.calls),
            output::thousands(t.prompt_tokens),
            output::thousands(t.cached_tokens),
            output::thousands(t.completion_tokens),
            t.cost.with_unknown(t.unpriced_calls, t.calls),
        ]
    };
    let mut rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| fmt(g.key.clone(), &g.totals))
        .collect();
    rows.push(fmt(output::bold("total"), &r.totals));
    let first = match r.by {
        By::Day => "day",
        By::Subscriber => "subscriber",
        By::Model => "model",
    };
    table(
        &[first, "calls", "prompt", "cached", "completion", "cost"],
        &rows,
        &[1, 2, 3, 4, 5],
    )
}
