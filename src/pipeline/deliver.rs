//! Sending: a delivery row before the send, the send with retries, the row marked after; and
//! resuming a delivery an earlier run left pending.

use chrono::NaiveDate;

use super::report::simple;
use super::{App, Prepared, SubscriberReport};
use crate::domain::problem::{Kind, Problem};
use crate::domain::Subscriber;
use crate::mail::message::build_digest_message;
use crate::mail::message::new_message_id;
use crate::outbox::Outbox;
use crate::store::deliveries::{self, DeliveryStatus, NewDelivery};
use crate::store::outbox::Queued;
use crate::store::owed::Ledger;
use crate::store::runs::SubscriberStatus;

/// A delivery row already exists for this subscriber and day: sent (nothing to do), pending (a
/// previous run stopped before or during the send: send the same bytes again), or failed for good.
pub(super) async fn resume(
    app: &App,
    outbox: &Outbox,
    sub: &Subscriber,
    d: deliveries::Delivery,
) -> anyhow::Result<SubscriberReport> {
    let email = sub.email.to_string();
    let selected = d.paper_ids.len();
    let mut report = match d.status {
        DeliveryStatus::Sent => simple(
            &email,
            SubscriberStatus::AlreadyDelivered,
            Some(format!("sent before as {}", d.message_id)),
            None,
        ),
        DeliveryStatus::Failed => {
            let why = d.last_error.unwrap_or_default();
            simple(
                &email,
                SubscriberStatus::SendFailed,
                Some(format!(
                    "the mail server refused this digest for good: {why}"
                )),
                Some(Problem::new(Kind::SmtpRefused, why)),
            )
        }
        DeliveryStatus::Pending => {
            tracing::info!(subscriber = %email, message_id = %d.message_id, "resending a digest left pending by an earlier run");
            send_recorded(app, outbox, sub, d.day, &d.message).await?
        }
    };
    report.outcome.selected = selected;
    Ok(report)
}

/// What became of one digest.
pub(super) struct Sent {
    pub status: SubscriberStatus,
    pub detail: Option<String>,
    pub to: Option<String>,
    pub problem: Option<Problem>,
}

/// Records the digest as pending (with what it settles and still owes the reader, in the same
/// transaction), sends it, and records the result.
pub(super) async fn deliver(
    app: &App,
    outbox: &Outbox,
    p: &Prepared,
    run_id: i64,
    dry_run: bool,
) -> anyhow::Result<Sent> {
    let d = &p.digest;
    let message_id = new_message_id(&app.from);
    let reply = reply_addresses(app, &d.subscriber.email).await?;
    let bytes = build_digest_message(&app.from, &d.to_mail(), &message_id, false, reply.as_ref())?
        .formatted();
    let to = d.subscriber.email.to_address();
    if dry_run {
        return Ok(match outbox.send_once(&to, &bytes).await {
            Ok(where_) => Sent {
                status: SubscriberStatus::DryRun,
                detail: None,
                to: Some(where_),
                problem: None,
            },
            Err(e) => Sent {
                status: SubscriberStatus::SendFailed,
                problem: Some(e.problem()),
                detail: Some(e.message),
                to: None,
            },
        });
    }
    // Listed papers count as sent, the ones past the cap too: none is offered twice.
    let delivery = NewDelivery {
        subscriber: d.subscriber.email.clone(),
        day: d.day,
        run_id,
        kind: if d.is_empty() { "empty" } else { "digest" },
        message_id: message_id.clone(),
        subject: d.subject(),
        paper_ids: d
            .entries
            .iter()
            .chain(&d.more)
            .map(|e| e.paper.id.clone())
            .collect(),
        message: bytes.clone(),
        page: Some(serde_json::to_string(&crate::digest::StoredPage::of(d))?),
    };
    let created = app
        .store
        .record_pending_delivery(delivery, ledger(p))
        .await?;
    if !created {
        return Ok(Sent {
            status: SubscriberStatus::AlreadyDelivered,
            detail: Some("another run recorded this digest first".into()),
            to: None,
            problem: None,
        });
    }
    let r = send_recorded(app, outbox, &d.subscriber, d.day, &bytes).await?;
    Ok(Sent {
        status: r.outcome.status,
        detail: r.outcome.detail,
        to: r.delivered_to,
        problem: r.outcome.problem,
    })
}

/// The papers a digest settles (judged) and those it still owes the reader.
fn ledger(p: &Prepared) -> Ledger {
    Ledger {
        settled: p.settled.clone(),
        owed: p
            .digest
            .unscored
            .iter()
            .map(|u| (u.paper.id.clone(), u.reason.clone()))
            .collect(),
    }
}

/// Records what a run judged and still owes a reader it sends nothing to today (nothing passed,
/// or nothing could be scored), so a later run picks the owed papers up.
pub(super) async fn keep_owed(app: &App, p: &Prepared) -> anyhow::Result<()> {
    app.store
        .keep_owed(&p.digest.subscriber.email, p.digest.day, ledger(p))
        .await
}

/// Sends a digest whose delivery row exists, through the outbox's one send loop (temporary
/// refusals retried with backoff), which marks it sent, failed for good (5xx), or still pending.
async fn send_recorded(
    app: &App,
    outbox: &Outbox,
    sub: &Subscriber,
    day: NaiveDate,
    bytes: &[u8],
) -> anyhow::Result<SubscriberReport> {
    let email = sub.email.to_string();
    let item = Queued::Digest {
        subscriber: sub.email.clone(),
        day,
    };
    match outbox
        .send(&app.store, &item, &sub.email.to_address(), bytes)
        .await?
    {
        Ok(where_) => {
            let mut r = simple(&email, SubscriberStatus::Delivered, None, None);
            r.delivered_to = Some(where_);
            Ok(r)
        }
        Err(err) => {
            tracing::error!(subscriber = %email, error = %err, transient = err.transient, "could not deliver the digest");
            let problem = err.problem();
            let detail = if err.transient {
                format!("{} (will be retried)", err.message)
            } else {
                err.message
            };
            Ok(simple(
                &email,
                SubscriberStatus::SendFailed,
                Some(detail),
                Some(problem),
            ))
        }
    }
}

/// The subscriber's reply and unsubscribe addresses, when replies are read (`[imap]` configured).
pub async fn reply_addresses(
    app: &App,
    email: &crate::domain::SubscriberEmail,
) -> anyhow::Result<Option<crate::domain::ReplyAddresses>> {
    app.store.reply_addresses(&app.config, email).await
}
