//! Telling the admin: after a run that failed or degraded, one mail that says what happened and
//! what to do, chosen by the problems' kinds; and once for an inbox message that could not be
//! handled. Alerts are composed and queued here; the outbox sends them like every other mail:
//! recorded before the send, retried while the server refuses for now, one per run or message.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use lettre::message::Mailbox;
use lettre::Address;

use crate::domain::problem::{Kind, Problem};
use crate::mail::message::build_alert;
use crate::outbox::Outbox;
use crate::store::alerts::{self, AlertKey};
use crate::store::runs::RunStatus;
use crate::store::Store;

/// What the admin is told about a run: how it ended and what went wrong, for whom.
pub struct RunOutcome<'a> {
    pub run_id: i64,
    pub day: Option<NaiveDate>,
    pub status: RunStatus,
    pub error: Option<&'a str>,
    /// Each problem, with the reader it concerns (none: the whole run).
    pub problems: Vec<(Option<&'a str>, &'a Problem)>,
}

/// The alert for `report`, if it deserves one: (subject, body).
pub fn compose(report: &RunOutcome) -> Option<(String, String)> {
    let problems = &report.problems;
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
        if let Some(e) = report.error {
            body.push_str(&format!("  - {e}\n"));
        }
    }
    for (who, p) in problems {
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

/// Where alerts go: `admin` (none: no alert mails, only logs), from `from`, through `outbox`.
pub struct Alerts<'a> {
    pub store: &'a Store,
    pub outbox: &'a Outbox,
    pub from: &'a Mailbox,
    pub admin: Option<Address>,
}

impl Alerts<'_> {
    /// Queues the alert for `report` (if it deserves one) and sends every pending alert and
    /// answer. Returns how many alerts were sent.
    pub async fn after_run(&self, report: &RunOutcome<'_>) -> anyhow::Result<usize> {
        let Some(admin) = &self.admin else {
            return Ok(0);
        };
        if let Some((subject, body)) = compose(report) {
            let (recipient, message_id, bytes) = build_alert(self.from, admin, &subject, body)?;
            let key = AlertKey::Run(report.run_id);
            self.store
                .create_pending_alert(key, &recipient, &message_id, &subject, bytes)
                .await?;
        }
        Ok(self.outbox.drain(self.store).await?.alerts_sent)
    }

    /// Queues, once per message, the alert that a message in the inbox could not be handled (it
    /// was moved to `folder` and recorded).
    pub async fn inbox_failure(
        &self,
        message_id: &str,
        subscriber: Option<&str>,
        detail: &str,
        folder: &str,
    ) -> anyhow::Result<()> {
        let Some(admin) = &self.admin else {
            return Ok(());
        };
        let subject = "paperboy: a reply could not be handled".to_string();
        let body = format!(
            "A message in the inbox could not be handled; nothing was changed.\n\n  Message-ID: {message_id}\n  Reader: {}\n  Error: {detail}\n\nIt was moved to the folder {folder} and is not tried again; `paperboy inbox log` lists it.\nIf the error points at paperboy, please report it with the message.\n",
            subscriber.unwrap_or("-"),
        );
        let (recipient, alert_id, message) = build_alert(self.from, admin, &subject, body)?;
        let mid = message_id.to_string();
        self.store
            .call(move |c| {
                let Some(row) = crate::store::inbox::entry_number(c, &mid)? else {
                    return Ok(false);
                };
                alerts::create_pending(
                    c,
                    AlertKey::InboxMessage(row),
                    recipient.as_ref(),
                    &alert_id,
                    &subject,
                    &message,
                )
            })
            .await?;
        Ok(())
    }
}
