//! `paperboy deliveries`: the delivery queue (what was sent, what waits, what the mail server
//! said), resending a past day's exact message, and what a reader has been sent.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::digest::build_app;
use super::output::{self, table};
use super::{parse_date, read_store, Failure, EXIT_FAILED, EXIT_OK};
use crate::config::Config;
use crate::domain::SubscriberEmail;
use crate::store::deliveries::DeliveryStatus;
use crate::store::outbox::Queued;

/// Every digest recorded: day, reader, status, attempts and the mail server's last answer.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy deliveries                          the latest 50\n  paperboy deliveries --failed                 what is pending or refused, with the server's answer\n  paperboy deliveries --day 2025-03-28 --json\n  paperboy deliveries resend --day 2025-03-28 --to ada@lab.org\n  paperboy deliveries resend --day 2025-03-28 --to ada@lab.org --admin   a copy for the admin"
)]
pub struct DeliveriesArgs {
    #[command(subcommand)]
    pub cmd: Option<DeliveriesCmd>,
    /// Only deliveries not sent (pending, or refused for good).
    #[arg(long)]
    pub failed: bool,
    /// Only this announcement day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub day: Option<NaiveDate>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCmd {
    /// Sends a past day's digest again: the exact message that was recorded (same Message-ID).
    Resend {
        #[arg(long, value_parser = parse_date)]
        day: NaiveDate,
        /// Whose digest.
        #[arg(long, value_parser = super::subscribers::parse_email)]
        to: SubscriberEmail,
        /// Send the copy to [admin] email instead of the reader.
        #[arg(long)]
        admin: bool,
    },
}

pub async fn run(config: Config, args: DeliveriesArgs) -> Result<u8, Failure> {
    match args.cmd {
        None => list(&config, &args),
        Some(DeliveriesCmd::Resend { day, to, admin }) => {
            resend(config, day, &to, admin, args.json).await
        }
    }
}

fn list(config: &Config, args: &DeliveriesArgs) -> Result<u8, Failure> {
    let store = read_store(config)?;
    let (failed, day, limit) = (args.failed, args.day, args.limit);
    let rows = store.deliveries_now(failed, day, limit)?;
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|d| {
                serde_json::json!({
                    "subscriber": d.subscriber, "day": d.day.to_string(), "status": d.status.as_str(),
                    "kind": d.kind, "attempts": d.attempts, "last_error": d.last_error,
                    "message_id": d.message_id, "subject": d.subject, "papers": d.paper_ids.len(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if failed {
                "Nothing pending or refused."
            } else {
                "No deliveries recorded yet."
            }
        );
        return Ok(EXIT_OK);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|d| {
            vec![
                d.day.to_string(),
                d.subscriber.clone(),
                output::status(match d.status {
                    DeliveryStatus::Sent => "delivered",
                    DeliveryStatus::Pending => "pending",
                    DeliveryStatus::Failed => "failed",
                }),
                d.attempts.to_string(),
                d.paper_ids.len().to_string(),
                d.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "{}",
        table(
            &[
                "day",
                "subscriber",
                "status",
                "attempts",
                "papers",
                "server's last answer"
            ],
            &cells,
            &[3, 4]
        )
    );
    Ok(EXIT_OK)
}

async fn resend(
    config: Config,
    day: NaiveDate,
    to: &SubscriberEmail,
    admin: bool,
    json: bool,
) -> Result<u8, Failure> {
    let recipient = if admin {
        match &config.admin.email {
            Some(a) => a.clone(),
            None => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--admin needs [admin] email in paperboy.toml"
                )))
            }
        }
    } else {
        to.to_string()
    };
    let app = build_app(config).await?;
    let Some(d) = app.store.delivery(to, day).await? else {
        return Err(Failure::usage(anyhow::anyhow!(
            "no digest of {day} for {to} is recorded (`paperboy deliveries --day {day}` lists that day)"
        )));
    };
    if d.message.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "the digest of {day} for {to} was sent, and its bytes were pruned since (by [store] keep_days or `paperboy store prune`); there is nothing to send again"
        )));
    }
    let rcpt: lettre::Address = recipient
        .parse()
        .with_context(|| format!("`{recipient}` is not a mail address"))?;
    // A digest not delivered yet goes through its queue row (marked sent); a copy of a sent one,
    // or one for the admin, is sent once and changes nothing.
    let result = if !admin && d.status != DeliveryStatus::Sent {
        let item = Queued::Digest {
            subscriber: to.clone(),
            day,
        };
        app.outbox
            .send(&app.store, &item, &rcpt, &d.message)
            .await?
    } else {
        app.outbox.send_once(&rcpt, &d.message).await
    };
    let ok = result.is_ok();
    tracing::info!(day = %day, subscriber = %to, to = %rcpt, ok, "resent a recorded digest");
    if json {
        println!(
            "{}",
            serde_json::json!({
                "day": day.to_string(), "subscriber": to.to_string(), "to": recipient,
                "message_id": d.message_id, "sent": ok,
                "error": result.as_ref().err().map(|e| e.message.clone()),
            })
        );
    } else {
        match &result {
            Ok(where_) => println!(
                "resent {} ({}) to {recipient} → {where_}",
                d.subject, d.message_id
            ),
            Err(e) => eprintln!("error: could not resend to {recipient}: {e}"),
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_FAILED })
}

/// `subscribers show EMAIL --sent`: the papers a reader has been sent, by day.
pub fn print_sent(config: &Config, email: &SubscriberEmail, json: bool) -> Result<u8, Failure> {
    let store = read_store(config)?;
    let sent = store.sent_papers_now(email)?;
    if json {
        let v: Vec<serde_json::Value> = sent
            .iter()
            .map(|(day, id, title)| serde_json::json!({"day": day.to_string(), "id": id.as_str(), "title": title}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    if sent.is_empty() {
        let _ = writeln!(out, "Nothing has been sent to {email} yet.");
        return Ok(EXIT_OK);
    }
    let mut last = None;
    for (day, id, title) in &sent {
        if last != Some(*day) {
            let _ = writeln!(
                out,
                "{}",
                output::bold(&day.format("%a %-d %b %Y").to_string())
            );
            last = Some(*day);
        }
        let _ = writeln!(
            out,
            "  {:<12} {}",
            id.as_str(),
            super::output::untrusted(title)
        );
    }
    let days = {
        let mut days: Vec<_> = sent.iter().map(|s| s.0).collect();
        days.dedup();
        days.len()
    };
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let _ = writeln!(
        out,
        "{} on {}",
        plural(sent.len(), "paper", "papers"),
        plural(days, "day", "days")
    );
    Ok(EXIT_OK)
}
