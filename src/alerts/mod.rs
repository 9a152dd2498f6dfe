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

pub mod webhook;
pub use webhook::Webhook;

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

/// The problems a run's alert is about, each with the key it is remembered by until it clears:
/// per kind, and per reader for a reader's own trouble (an address refused for good).
pub fn problem_keys(report: &RunOutcome) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = report
        .problems
        .iter()
        .map(|(who, p)| {
            let whose = match p.kind {
                Kind::SmtpRefused => who.unwrap_or("*"),
                _ => "*",
            };
            (format!("run:{}:{whose}", p.kind.as_str()), p.detail.clone())
        })
        .collect();
    if keys.is_empty() && report.status == RunStatus::Failed {
        // A failure without typed problems: remembered by its error, numbers left out (run ids,
        // days and counts change from one try to the next; the trouble does not).
        let error = report.error.unwrap_or("the run failed");
        let shape: String = error
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(120)
            .collect();
        keys.push((format!("run:failed:{shape}"), error.to_string()));
    }
    keys.sort();
    keys.dedup_by(|a, b| a.0 == b.0);
    keys
}

/// Where alerts go: `admin` (none: no alert mails, only logs), from `from`, through `outbox`;
/// and `webhook`, which does not need the mail server.
pub struct Alerts<'a> {
    pub store: &'a Store,
    pub outbox: &'a Outbox,
    pub from: &'a Mailbox,
    pub admin: Option<Address>,
    pub webhook: Option<&'a Webhook>,
}

impl Alerts<'_> {
    /// Queues the alert for `report` (if it deserves one) and sends every pending alert and
    /// answer. Returns how many alerts were sent.
    ///
    /// A problem the admin was already told about, and that has not cleared since, is not
    /// alerted again (a bad URL fails every catch-up day and every retry: one alert). A healthy
    /// run clears the run problems; the webhook hears that they did.
    pub async fn after_run(&self, report: &RunOutcome<'_>) -> anyhow::Result<usize> {
        if report.status == RunStatus::Interrupted {
            // A stop or restart: the next run finishes the day, and tells if that goes wrong.
            // Nothing is told, and nothing the admin was told of is cleared.
            tracing::info!(
                run = report.run_id,
                "the run was interrupted; no alert (the next run finishes the day)"
            );
            return Ok(0);
        }
        match compose(report) {
            Some((subject, body)) => {
                let mut new = Vec::new();
                for (key, summary) in problem_keys(report) {
                    if self.store.open_problem(&key, &summary).await?.is_some() {
                        new.push(key);
                    }
                }
                if new.is_empty() {
                    tracing::info!(
                        run = report.run_id,
                        "the admin was told about these problems already; no new alert until they clear"
                    );
                } else {
                    self.notify(AlertKey::Run(report.run_id), &subject, &body)
                        .await?;
                }
            }
            None => {
                let mut cleared = Vec::new();
                for (key, summary) in self.store.open_problems("run:").await? {
                    if self.store.resolve_problem(&key).await?.is_some() {
                        cleared.push(summary);
                    }
                }
                if !cleared.is_empty() {
                    let day = report.day.map_or("-".to_string(), |d| d.to_string());
                    tracing::info!(
                        run = report.run_id,
                        cleared = cleared.len(),
                        "earlier problems cleared"
                    );
                    self.post_webhook(
                        &format!("paperboy: the run for {day} went well again"),
                        &format!(
                            "Run {} ended `{}`. Cleared:\n{}",
                            report.run_id,
                            report.status.as_str(),
                            cleared
                                .iter()
                                .map(|c| format!("  - {c}\n"))
                                .collect::<String>()
                        ),
                    )
                    .await;
                }
            }
        }
        if self.admin.is_none() {
            return Ok(0);
        }
        Ok(self.outbox.drain(self.store).await?.alerts_sent)
    }

    /// One alert: queued as mail to the admin (when there is one) under `key`, and posted to
    /// the webhook (when there is one) right away.
    async fn notify(&self, key: AlertKey, subject: &str, body: &str) -> anyhow::Result<()> {
        let (subject, body) = (
            crate::support::redact::redact(subject),
            crate::support::redact::redact(body),
        );
        let (subject, body) = (subject.as_ref(), body.as_ref());
        if let Some(admin) = &self.admin {
            let (recipient, message_id, bytes) =
                build_alert(self.from, admin, subject, body.to_string())?;
            self.store
                .create_pending_alert(key, &recipient, &message_id, subject, bytes)
                .await?;
        }
        self.post_webhook(subject, body).await;
        Ok(())
    }

    /// Posts to the webhook and records how it went (`status` and the metrics read it).
    pub async fn post_webhook(&self, subject: &str, body: &str) {
        let Some(hook) = self.webhook else { return };
        let outcome = hook.post(subject, body).await;
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "could not post the alert to the webhook");
        }
        if let Err(e) = self
            .store
            .record_health(crate::store::health::Service::Webhook, outcome)
            .await
        {
            tracing::warn!(error = %format!("{e:#}"), "could not record the webhook's health");
        }
    }

    /// The inbox could not be polled: alerted once per spell (webhook and mail), cleared when a
    /// poll works again.
    pub async fn inbox_health(&self, outcome: &Result<(), String>) -> anyhow::Result<()> {
        match outcome {
            Ok(()) => {
                if self.store.resolve_problem("inbox").await?.is_some() {
                    self.post_webhook("paperboy: the inbox works again", "Replies are read again.")
                        .await;
                }
            }
            Err(e) => {
                if let Some(spell) = self.store.open_problem("inbox", e).await? {
                    let body = format!(
                        "paperboy could not read the inbox, so replies wait unanswered:\n\n  {e}\n\nCheck [imap] in paperboy.toml and the mail server; `paperboy check` tries the login. You are told again only after it has worked once more.\n"
                    );
                    self.notify(
                        AlertKey::Problem(spell),
                        "paperboy: the inbox cannot be read",
                        &body,
                    )
                    .await?;
                    // By mail too: the inbox failing does not mean the outgoing server does.
                    if self.admin.is_some() {
                        self.outbox.drain(self.store).await?;
                    }
                }
            }
        }
        Ok(())
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
        self.post_webhook(&subject, &body).await;
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
