//! Telling the admin: after a run that failed or degraded, one mail that says what happened and
//! what to do, chosen by the problems' kinds. It goes through the same outbox as digests:
//! recorded before the send, retried while the server refuses for now, one per run.

use std::collections::BTreeMap;

use lettre::message::{header::ContentType, Mailbox};
use lettre::Message;

use crate::app::App;
use crate::domain::problem::Kind;
use crate::mail::outbound::new_message_id;
use crate::mail::Mailer;
use crate::pipeline::RunReport;
use crate::store::alerts;
use crate::store::runs::RunStatus;

/// The alert for `report`, if it deserves one: (subject, body).
pub fn compose(report: &RunReport) -> Option<(String, String)> {
    let problems = report.problems();
    let healthy = matches!(report.status, RunStatus::Ok | RunStatus::NoAnnouncement);
    if healthy && problems.is_empty() {
        return None;
    }
    let day = report.day.map_or("-".to_string(), |d| d.to_string());
    let subject = format!(
        "paperboy: the run for {day} {}",
        match report.status {
            RunStatus::Failed => "failed",
            _ => "needs attention",
        }
    );
    let mut body = format!(
        "Run {} for the announcement of {day} ended as `{}`.\n\n",
        report.run_id,
        report.status.as_str()
    );
    body.push_str("What happened:\n");
    if problems.is_empty() {
        if let Some(e) = &report.error {
            body.push_str(&format!("  - {e}\n"));
        }
    }
    for (who, p) in &problems {
        match who {
            Some(who) => body.push_str(&format!("  - {who}: {p}\n")),
            None => body.push_str(&format!("  - {p}\n")),
        }
    }
    // One piece of advice per kind of problem, in a stable order.
    let advice: BTreeMap<Kind, &str> = problems.iter().map(|(_, p)| (p.kind, p.advice())).collect();
    body.push_str("\nWhat to do:\n");
    if advice.is_empty() {
        body.push_str("  - See `paperboy runs show` for the details.\n");
    }
    for a in advice.values() {
        body.push_str(&format!("  - {a}\n"));
    }
    body.push_str(&format!(
        "\nDetails: paperboy runs show {}\n",
        report.run_id
    ));
    Some((subject, body))
}

/// Records the alert for `report` (if `[admin] email` is set and the run deserves one) and sends
/// every pending alert. Returns how many were sent.
pub async fn after_run(app: &App, report: &RunReport) -> anyhow::Result<usize> {
    let Some(admin) = &app.config.admin.email else {
        return Ok(0);
    };
    if let Some((subject, body)) = compose(report) {
        let (recipient, message_id, bytes) = message(app, admin, &subject, body)?;
        let run_id = report.run_id;
        app.store
            .call(move |c| {
                alerts::create_pending(c, run_id, &recipient, &message_id, &subject, &bytes)
            })
            .await?;
    }
    send_pending(app).await
}

/// An alert mail to `admin`: (recipient, Message-ID, bytes).
fn message(
    app: &App,
    admin: &str,
    subject: &str,
    body: String,
) -> anyhow::Result<(String, String, Vec<u8>)> {
    let to: Mailbox = admin.parse()?;
    let message_id = new_message_id(&app.from);
    let message = Message::builder()
        .from(app.from.clone())
        .to(to.clone())
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .body(body)?
        .formatted();
    Ok((to.email.to_string(), message_id, message))
}

/// Tells the admin, once, that a message in the inbox could not be handled (it was moved to the
/// rejected folder and recorded). Recorded like a run's alert, under the message's inbox entry.
pub async fn inbox_failure(
    app: &App,
    handled: &crate::mail::inbound::Handled,
) -> anyhow::Result<()> {
    let Some(admin) = &app.config.admin.email else {
        return Ok(());
    };
    let folder = app
        .config
        .imap
        .as_ref()
        .map_or("paperboy/rejected".to_string(), |i| {
            i.rejected_folder.clone()
        });
    let subject = "paperboy: a reply could not be handled".to_string();
    let body = format!(
        "A message in the inbox could not be handled; nothing was changed.\n\n  Message-ID: {}\n  Reader: {}\n  Error: {}\n\nIt was moved to the folder {folder} and is not tried again; `paperboy inbox log` lists it.\nIf the error points at paperboy, please report it with the message.\n",
        handled.message_id,
        handled.subscriber.as_deref().unwrap_or("-"),
        handled.detail
    );
    let (recipient, message_id, message) = message(app, admin, &subject, body)?;
    let mid = handled.message_id.clone();
    app.store
        .call(move |c| {
            // Keyed by the inbox entry (negated, apart from run ids): once per message.
            let Some(row) = crate::store::inbox::entry_number(c, &mid)? else {
                return Ok(false);
            };
            alerts::create_pending(c, -row, &recipient, &message_id, &subject, &message)
        })
        .await?;
    Ok(())
}

/// Sends the alerts still pending (this run's, and earlier ones the server refused for now),
/// retrying temporary refusals with backoff like digests.
pub async fn send_pending(app: &App) -> anyhow::Result<usize> {
    let pending = app.store.call(|c| alerts::pending(c)).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mailer = Mailer::from_config(&app.config, false)?;
    let attempts = app.config.schedule.send_attempts.max(1);
    let mut sent = 0;
    for alert in pending {
        let to: lettre::Address = alert.recipient.parse()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match mailer.send(&app.from.email, &to, &alert.message).await {
                Ok(_) => {
                    let run_id = alert.run_id;
                    app.store
                        .call(move |c| alerts::mark_sent(c, run_id))
                        .await?;
                    tracing::info!(to = %to, run = run_id, "alert sent to the admin");
                    sent += 1;
                    break;
                }
                Err(e) => {
                    let retry = e.transient && attempt < attempts && !app.cancel.is_cancelled();
                    let (run_id, msg, permanent) = (alert.run_id, e.message.clone(), !e.transient);
                    app.store
                        .call(move |c| alerts::mark_failed(c, run_id, &msg, permanent && !retry))
                        .await?;
                    if !retry {
                        tracing::error!(error = %e, run = alert.run_id, "could not send the alert to the admin; it stays pending and is sent with the next run");
                        break;
                    }
                    let wait = crate::support::clock::backoff(
                        std::time::Duration::from_millis(app.config.schedule.send_retry_base_ms),
                        attempt,
                    );
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "the alert was refused for now; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    Ok(sent)
}
