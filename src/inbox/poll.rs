//! One pass over the inbox: each unseen message is handled once (recorded before it is filed),
//! flagged \Seen and moved to the processed (or rejected) folder; a message that could not be
//! handled is alerted once. Answers were queued with the message's record; the outbox sends them
//! now, and again on the next poll if sending failed, so a crash loses nothing.

use anyhow::Context as _;
use secrecy::ExposeSecret as _;

use super::{Handled, Inbox, Outcome, MAX_SIZE};
use crate::alerts::Alerts;
use crate::mail::imap::{Folder, ImapMailbox};
use crate::outbox::Outbox;

#[derive(Debug, Default)]
pub struct PollReport {
    pub handled: Vec<Handled>,
    pub answers_sent: usize,
    pub answers_failed: usize,
}

/// Handles the new mail once.
pub async fn poll(
    inbox: &Inbox<'_>,
    alerts: &Alerts<'_>,
    outbox: &Outbox,
) -> anyhow::Result<PollReport> {
    let config = inbox.ctx.config;
    let cfg = config
        .imap
        .as_ref()
        .context("no [imap] section in the configuration: paperboy does not read replies")?;
    let password = config.imap_password().with_context(|| {
        format!(
            "the IMAP password is not set: put it in ${}",
            cfg.password_env
        )
    })?;
    let mut report = PollReport::default();
    let mut mailbox = ImapMailbox::open(cfg, password.expose_secret()).await?;
    for uid in mailbox.unseen().await? {
        let Some(raw) = mailbox.fetch(uid, MAX_SIZE).await? else {
            continue;
        };
        let handled = inbox.handle(&raw).await?;
        let folder = if handled.rejected() {
            Folder::Rejected
        } else {
            Folder::Processed
        };
        mailbox.file(uid, folder).await?;
        if handled.outcome == Outcome::Failed {
            alerts
                .inbox_failure(
                    &handled.message_id,
                    handled.subscriber.as_deref(),
                    &handled.detail,
                    &cfg.rejected_folder,
                )
                .await?;
        }
        report.handled.push(handled);
    }
    mailbox.logout().await;
    let drained = outbox.drain(inbox.ctx.store).await?;
    report.answers_sent = drained.answers_sent;
    report.answers_failed = drained.answers_failed;
    Ok(report)
}
