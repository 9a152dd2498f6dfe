//! The outbox's view of the three queues of outgoing mail: digests (`deliveries`), the admin's
//! alerts (`alerts`) and answers to replies (`inbound`). Each row holds the exact bytes, written
//! before the send; this marks the row after each attempt, whichever queue it is in.

use chrono::NaiveDate;
use rusqlite::Connection;

use super::{alerts, deliveries, inbox, Store};
use crate::domain::SubscriberEmail;

/// Which row a queued message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// A reader's digest for an announcement day.
    Digest {
        subscriber: SubscriberEmail,
        day: NaiveDate,
    },
    /// An alert to the admin.
    Alert(alerts::AlertKey),
    /// The answer to the message with this Message-ID.
    Answer(String),
}

/// For the log: "the digest for ada@lab.org of 2025-03-28", "the alert about run 7", ….
impl std::fmt::Display for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Digest { subscriber, day } => {
                write!(f, "the digest for {subscriber} of {day}")
            }
            Queued::Alert(alerts::AlertKey::Run(id)) => write!(f, "the alert about run {id}"),
            Queued::Alert(alerts::AlertKey::InboxMessage(row)) => {
                write!(f, "the alert about inbox message {row}")
            }
            Queued::Alert(alerts::AlertKey::Problem(id)) => {
                write!(f, "the alert about problem {id}")
            }
            Queued::Answer(message_id) => write!(f, "the answer to {message_id}"),
        }
    }
}

/// A message waiting to be sent.
#[derive(Debug, Clone)]
pub struct Pending {
    pub item: Queued,
    pub recipient: String,
    pub message: Vec<u8>,
}

/// Alerts and answers not sent yet, alerts first, each oldest first. (Pending digests are resumed
/// by the run, which reports on each reader.)
pub fn pending_alerts_and_answers(conn: &Connection) -> rusqlite::Result<Vec<Pending>> {
    let mut out: Vec<Pending> = alerts::pending(conn)?
        .into_iter()
        .map(|a| Pending {
            item: Queued::Alert(a.key),
            recipient: a.recipient,
            message: a.message,
        })
        .collect();
    out.extend(
        inbox::pending_replies(conn)?
            .into_iter()
            .map(|(id, to, message)| Pending {
                item: Queued::Answer(id),
                recipient: to,
                message,
            }),
    );
    Ok(out)
}

impl Store {
    /// Alerts and answers not sent yet, alerts first, each oldest first.
    pub async fn pending_alerts_and_answers(&self) -> anyhow::Result<Vec<Pending>> {
        self.call(|c| pending_alerts_and_answers(c)).await
    }
}

/// The message went out.
pub fn mark_sent(conn: &mut Connection, item: &Queued) -> rusqlite::Result<()> {
    match item {
        Queued::Digest { subscriber, day } => {
            deliveries::mark_sent(conn, subscriber.as_str(), *day)
        }
        Queued::Alert(key) => alerts::mark_sent(conn, *key),
        Queued::Answer(id) => inbox::mark_reply(conn, id, inbox::ReplyStatus::Sent),
    }
}

impl Store {
    /// Marks the queued message `item` sent.
    pub async fn mark_sent(&self, item: &Queued) -> anyhow::Result<()> {
        let i = item.clone();
        self.call(move |c| mark_sent(c, &i)).await
    }
}

/// An attempt failed: the row stays pending (tried again later) unless `permanent`.
pub fn mark_failed(
    conn: &Connection,
    item: &Queued,
    error: &str,
    permanent: bool,
) -> rusqlite::Result<()> {
    match item {
        Queued::Digest { subscriber, day } => {
            deliveries::mark_failed(conn, subscriber.as_str(), *day, error, permanent)
        }
        Queued::Alert(key) => alerts::mark_failed(conn, *key, error, permanent),
        Queued::Answer(id) if permanent => inbox::mark_reply(conn, id, inbox::ReplyStatus::Failed),
        Queued::Answer(_) => Ok(()),
    }
}

impl Store {
    /// Records a failed attempt to send the queued message `item`: it stays pending (tried again
    /// later) unless `permanent`.
    pub async fn mark_failed(
        &self,
        item: &Queued,
        error: &str,
        permanent: bool,
    ) -> anyhow::Result<()> {
        let (i, msg) = (item.clone(), error.to_string());
        self.call(move |c| mark_failed(c, &i, &msg, permanent))
            .await
    }
}
