use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;

use super::digest::build_app;
use super::output::Bar;
use super::subscribers::parse_email;
use super::{parse_date, Failure, EXIT_FAILED, EXIT_OK};
use crate::config::Config;
use crate::digest::{render_html, render_text};
use crate::domain::SubscriberEmail;
use crate::mail::message::{as_test, new_message_id};
use crate::pipeline::{self, start_run};
use crate::store::runs::RunStatus;
use crate::subscribers::admin::Subscribers;

/// Show the digest a subscriber would get for a day, without sending anything: writes the HTML
/// to a file and prints the text part. Stored verdicts are reused; papers without one are scored
/// (and stored, so the real run does not pay for them again).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy preview ada@lab.org\n  paperboy preview ada@lab.org --date 2025-03-28 --out /tmp/ada.html"
)]
pub struct PreviewArgs {
    #[arg(value_parser = parse_email)]
    pub email: SubscriberEmail,
    /// The announcement day [default: the latest one stored, else today's feed].
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Where to write the HTML [default: OUTBOX/preview-EMAIL-DAY.html].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn preview(config: Config, args: PreviewArgs) -> Result<u8, Failure> {
    let subs = Subscribers::new(&config)
        .load()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e.to_string().trim_end().to_string())))?;
    let sub = subs
        .into_iter()
        .find(|s| s.email == args.email)
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no subscriber {}; `paperboy subscribers list` shows who is there",
                args.email
            ))
        })?;
    let app = build_app(config).await?;
    let _runs = app.hold_runs("paperboy preview").await?;
    let run_id = start_run(&app, crate::store::runs::RunKind::Preview, true, "preview").await?;
    let result = async {
        let announcement = pipeline::stored_or_fetched(&app, run_id, args.date).await?;
        if announcement.papers.is_empty() {
            anyhow::bail!(
                "arXiv announced no papers on {} (weekend or holiday): there is nothing to preview",
                announcement.day
            );
        }
        let bar = Bar::new(true, "scoring");
        let mut prepared = pipeline::prepare(
            &app,
            run_id,
            std::slice::from_ref(&sub),
            &announcement,
            Some(announcement.day),
            &bar,
        )
        .await?;
        Ok(prepared.remove(0))
    }
    .await;
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("{e:#}");
            app.store
                .finish_run(run_id, RunStatus::Failed, Some(&msg))
                .await?;
            return Err(Failure::from(anyhow::anyhow!(msg)));
        }
    };
    let status = if p.digest.unscored.is_empty() {
        RunStatus::Ok
    } else {
        RunStatus::Degraded
    };
    app.store.finish_run(run_id, status, None).await?;

    let out = match args.out {
        Some(o) => o,
        None => {
            let dir = app.config.resolve(&app.config.mail.outbox);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.join(format!(
                "preview-{}-{}.html",
                p.digest.subscriber.email, p.digest.day
            ))
        }
    };
    std::fs::write(&out, render_html(&p.digest))
        .with_context(|| format!("cannot write {}", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Subject: {}\n", p.digest.subject());
    let _ = write!(stdout, "{}", render_text(&p.digest));
    eprintln!("HTML written to {}", out.display());
    Ok(if p.digest.unscored.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Send a subscriber's latest digest again, marked as a test ("[test]" in the subject, a new
/// Message-ID), through the configured transport. It is not recorded as a delivery.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  paperboy send-test ada@lab.org")]
pub struct SendTestArgs {
    #[arg(value_parser = parse_email)]
    pub email: SubscriberEmail,
}

pub async fn send_test(config: Config, args: SendTestArgs) -> Result<u8, Failure> {
    let store = super::open_store(&config)?;
    let email = args.email.to_string();
    let Some(d) = store.latest_sent_to(&args.email)? else {
        return Err(Failure::usage(anyhow::anyhow!(
            "no digest has been sent to {email} yet; `paperboy preview {email}` shows what they would get"
        )));
    };
    if d.message.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "the bytes of the latest digest sent to {email} ({}) were pruned (by [store] keep_days or `paperboy store prune`); `paperboy preview {email}` shows what they would get now",
            d.day
        )));
    }
    let from = config
        .from_mailbox()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let transport = crate::mail::transport::from_config(&config);
    let message_id = new_message_id(&from);
    let bytes = as_test(
        &d.message,
        &message_id,
        &crate::support::clock::now_utc().to_rfc2822(),
    );
    let envelope =
        lettre::address::Envelope::new(Some(from.email.clone()), vec![args.email.to_address()])
            .context("the test copy's envelope")?;
    match transport.send_raw(&envelope, &bytes).await {
        Ok(to) => {
            println!(
                "sent the {} digest to {email} again as a test ({message_id}) → {to}",
                d.day
            );
            Ok(EXIT_OK)
        }
        Err(e) => Err(Failure::from(anyhow::anyhow!(
            "could not send the test: {e}"
        ))),
    }
}
