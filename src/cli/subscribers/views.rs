//! The subscriber commands that only read: `list`, `show` and `history`.

use std::io::Write as _;

use anyhow::Context as _;

use super::{diff, load, shorten};
use crate::cli::output::{self, table};
use crate::cli::{read_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::domain::{Subscriber, SubscriberEmail};
use crate::store::deliveries::Delivery;
use crate::store::library::SignalCounts;
use crate::store::spend::Totals;
use crate::subscribers::admin::Subscribers;

/// `subscribers list`: everyone, with their last digest, as a table or JSON.
pub(super) fn list(config: &Config, subs: &Subscribers, json: bool) -> Result<u8, Failure> {
    let all = load(subs)?;
    let store = read_store(config)?;
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for s in &all {
        let last = store.latest_sent_to(&s.email)?.map(|d| d.day.to_string());
        if json {
            let mut v = s.to_json();
            v["last_digest"] = serde_json::json!(last);
            json_rows.push(v);
            continue;
        }
        rows.push(vec![
            s.email.to_string(),
            output::untrusted(&s.name),
            output::status(if s.paused { "paused" } else { "active" }),
            output::untrusted(&shorten(&s.topics, 39)),
            s.authors.len().to_string(),
            s.keywords.len().to_string(),
            format!("R≥{} N≥{}", s.min_relevance, s.min_novelty),
            s.max_papers.to_string(),
            last.unwrap_or_else(|| "never".into()),
        ]);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_rows).context("json")?
        );
    } else if rows.is_empty() {
        println!("no subscribers yet; add one with `paperboy subscribers add EMAIL --name NAME --topics TEXT`");
    } else {
        print!(
            "{}",
            table(
                &[
                    "email",
                    "name",
                    "status",
                    "topics",
                    "authors",
                    "keywords",
                    "bar",
                    "max",
                    "last digest"
                ],
                &rows,
                &[4, 5, 7]
            )
        );
    }
    Ok(EXIT_OK)
}

/// The subscriber with this address (a usage error when there is none).
fn find(subs: &Subscribers, email: &SubscriberEmail) -> Result<Subscriber, Failure> {
    load(subs)?
        .into_iter()
        .find(|s| &s.email == email)
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no subscriber {email}; `paperboy subscribers list` shows who is there"
            ))
        })
}

pub(super) fn show(
    config: &Config,
    subs: &Subscribers,
    email: &SubscriberEmail,
    json: bool,
) -> Result<u8, Failure> {
    let s = find(subs, email)?;
    let store = read_store(config)?;
    let last = store.latest_sent_to(email)?;
    let month_start = crate::support::clock::now_utc()
        .format("%Y-%m-01")
        .to_string();
    let month = store.spent_by_since_now(email, &month_start)?;
    let signals = store.signal_counts(email)?;
    // The ranking learns wherever there are vectors: an endpoint, or the in-process model.
    let learns = matches!(
        config.embeddings.source(&config.base_dir),
        crate::config::EmbeddingSource::Endpoint | crate::config::EmbeddingSource::Local(_)
    );
    if json {
        print_json(&s, last.as_ref(), &month, signals)?;
    } else {
        print_profile(&s, last.as_ref(), &month, signals_line(signals, learns));
    }
    Ok(EXIT_OK)
}

/// The subscriber as JSON: their entry, the last digest and the spend this month.
fn print_json(
    s: &Subscriber,
    last: Option<&Delivery>,
    month: &Totals,
    signals: SignalCounts,
) -> Result<(), Failure> {
    let mut v = s.to_json();
    v["signals"] = serde_json::json!({
        "more_like": signals.more, "less_like": signals.less, "library_papers": signals.library,
    });
    v["last_digest"] = serde_json::json!(last.map(|d| serde_json::json!({
        "day": d.day.to_string(), "subject": d.subject, "message_id": d.message_id, "papers": d.paper_ids.len()
    })));
    v["spend_this_month"] = serde_json::json!({
        "calls": month.calls, "prompt_tokens": month.prompt_tokens, "cached_tokens": month.cached_tokens,
        "completion_tokens": month.completion_tokens,
        "cost_usd": if month.unpriced_calls > 0 { serde_json::Value::Null } else { serde_json::json!(month.cost.usd()) },
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The subscriber as text: one bold key and its value a line, then the topics.
fn print_profile(s: &Subscriber, last: Option<&Delivery>, month: &Totals, signals: String) {
    let mut out = std::io::stdout().lock();
    for (k, v) in profile_lines(s)
        .into_iter()
        .chain(activity_lines(last, month))
        .chain([("learned from", signals)])
    {
        let _ = writeln!(out, "{:<16} {v}", output::bold(k));
        // (Values from outside are made safe in `profile_lines`.)
    }
    let _ = writeln!(out, "{}", output::bold("topics"));
    for l in s.topics.lines() {
        let _ = writeln!(out, "  {}", output::untrusted(l));
    }
}

/// What the entry says: who, status, frequency, language, whom and what they follow, and
/// their thresholds.
fn profile_lines(s: &Subscriber) -> Vec<(&'static str, String)> {
    let or_dash = |v: &[String], sep: &str| {
        if v.is_empty() {
            "-".into()
        } else {
            v.join(sep)
        }
    };
    vec![
        ("email", s.email.to_string()),
        ("name", output::untrusted(&s.name)),
        (
            "status",
            output::status(if s.paused { "paused" } else { "active" }),
        ),
        (
            "frequency",
            match s.frequency {
                crate::domain::Frequency::Daily => "daily".to_string(),
                crate::domain::Frequency::Weekly(d) => {
                    format!("weekly, with the first run on or after {d}")
                }
            },
        ),
        (
            "language",
            format!("{} ({})", s.language.tag(), s.language.name()),
        ),
        ("authors", output::untrusted(&or_dash(&s.authors, "; "))),
        ("keywords", output::untrusted(&or_dash(&s.keywords, ", "))),
        (
            "categories",
            s.categories.as_ref().map_or("all configured".into(), |c| {
                c.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            }),
        ),
        (
            "thresholds",
            format!(
                "relevance ≥ {}, novelty ≥ {}, at most {} papers ({} in full)",
                s.min_relevance, s.min_novelty, s.max_papers, s.full_cards
            ),
        ),
        (
            "empty days",
            if s.send_empty {
                "a short note".into()
            } else {
                "no mail".into()
            },
        ),
    ]
}

/// What happened lately: the last digest sent and the model spend this month.
fn activity_lines(last: Option<&Delivery>, month: &Totals) -> Vec<(&'static str, String)> {
    let month_cost = month.cost.with_unknown(month.unpriced_calls, month.calls);
    vec![
        (
            "last digest",
            last.map_or("never".into(), |d| {
                format!("{} — {} ({})", d.day, d.subject, d.message_id)
            }),
        ),
        (
            "this month",
            format!(
                "{} model calls, {} tokens, {month_cost}",
                month.calls,
                output::thousands(month.prompt_tokens + month.completion_tokens)
            ),
        ),
    ]
}

/// What the reader's ranking has learned from: "2 signals (1 more like, 1 less like), and 40
/// papers of their library".
fn signals_line(c: SignalCounts, learns: bool) -> String {
    let taught = c.more + c.less;
    if taught + c.library == 0 {
        return "nothing yet (replies \"more like N\" / \"less like N\", an imported library)"
            .into();
    }
    let mut s = format!(
        "{taught} signal{} ({} more like, {} less like)",
        if taught == 1 { "" } else { "s" },
        c.more,
        c.less
    );
    if c.library > 0 {
        s.push_str(&format!(", and {} papers of their library", c.library));
    }
    if !learns {
        s.push_str(" — without [embeddings] they are examples in the prompt, not a model");
    }
    s
}

/// `subscribers history`: the audited changes to one subscriber, with what each changed.
pub(super) fn history(config: &Config, email: &SubscriberEmail, json: bool) -> Result<u8, Failure> {
    let store = read_store(config)?;
    let rows = store.audit_history_now(email)?;
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({"at": r.at, "actor": r.actor, "detail": r.detail, "action": r.action, "before": r.before, "after": r.after}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    if rows.is_empty() {
        println!("no recorded changes for {email}");
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    for r in rows {
        let who = match &r.detail {
            Some(d) => format!("{} ({d})", r.actor),
            None => r.actor.clone(),
        };
        let _ = writeln!(out, "{}  {:<20} {}", r.at, who, output::bold(&r.action));
        for l in diff(r.before.as_ref(), r.after.as_ref()) {
            let _ = writeln!(out, "    {}", output::untrusted(&l));
        }
    }
    Ok(EXIT_OK)
}
