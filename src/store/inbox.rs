//! Reply tokens and messages read from the inbox (the "more/less like" examples are in `examples`).

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_utc, Store};
// The examples live in their own module; the inbox's callers reach them here too.
pub use super::examples::{
    add_example, examples, remove_examples_of, taught_since, Example, Taught, MAX_EXAMPLES,
};
use crate::domain::{ReplyTokens, SubscriberEmail};

/// Which of a reader's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Reply,
    Unsubscribe,
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The subscriber's tokens, created on first use.
pub fn tokens_for(conn: &Connection, subscriber: &str) -> rusqlite::Result<ReplyTokens> {
    conn.execute(
        "INSERT INTO reply_tokens (subscriber, token, unsub_token, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(subscriber) DO NOTHING",
        params![subscriber, new_token(), new_token(), now_utc()],
    )?;
    // Rows from before the unsubscribe token get one.
    conn.execute(
        "UPDATE reply_tokens SET unsub_token = ?2 WHERE subscriber = ?1 AND unsub_token IS NULL",
        params![subscriber, new_token()],
    )?;
    conn.query_row(
        "SELECT token, unsub_token FROM reply_tokens WHERE subscriber = ?1",
        [subscriber],
        |r| {
            Ok(ReplyTokens {
                reply: r.get(0)?,
                unsubscribe: r.get(1)?,
            })
        },
    )
}

impl Store {
    /// The reader's reply and unsubscribe tokens, created on first use.
    pub async fn reply_tokens(&self, subscriber: &SubscriberEmail) -> anyhow::Result<ReplyTokens> {
        let s = subscriber.to_string();
        self.call(move |c| tokens_for(c, &s)).await
    }
}

/// Whose token of `kind` this is. Every stored token is compared in constant time, so the
/// answer's timing says nothing about how close a guess was.
pub fn who_has(
    conn: &Connection,
    token: &str,
    kind: TokenKind,
) -> rusqlite::Result<Option<String>> {
    let given = token.to_ascii_lowercase();
    holder(conn, kind, |stored| stored.to_string(), &given)
}

/// Whose one-click code `code` of the digest of `day` is (see [`crate::domain::reply`]): each
/// reader's code derived from their reply token and compared in constant time.
pub fn who_clicked(
    conn: &Connection,
    day: chrono::NaiveDate,
    code: &str,
) -> rusqlite::Result<Option<String>> {
    holder(
        conn,
        TokenKind::Reply,
        |token| crate::domain::reply::click_code(token, day),
        code,
    )
}

/// The reader whose stored token of `kind`, made into what a message carries by `carried`,
/// is `given`. Every reader's is compared, in constant time.
fn holder(
    conn: &Connection,
    kind: TokenKind,
    carried: impl Fn(&str) -> String,
    given: &str,
) -> rusqlite::Result<Option<String>> {
    let column = match kind {
        TokenKind::Reply => "token",
        TokenKind::Unsubscribe => "unsub_token",
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT subscriber, {column} FROM reply_tokens WHERE {column} IS NOT NULL"
    ))?;
    let mut found = None;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (subscriber, stored) = row?;
        if constant_time_eq::constant_time_eq(carried(&stored).as_bytes(), given.as_bytes()) {
            found = Some(subscriber);
        }
    }
    Ok(found)
}

impl Store {
    /// Whose one-click code of the digest of `day` `code` is, if anyone's.
    pub async fn click_holder(
        &self,
        day: chrono::NaiveDate,
        code: &str,
    ) -> anyhow::Result<Option<String>> {
        let c = code.to_string();
        self.call(move |conn| who_clicked(conn, day, &c)).await
    }

    /// Who holds reply token `token`, if anyone.
    pub async fn reply_token_holder(&self, token: &str) -> anyhow::Result<Option<String>> {
        let t = token.to_string();
        self.call(move |c| who_has(c, &t, TokenKind::Reply)).await
    }

    /// Who holds unsubscribe token `token`, if anyone.
    pub async fn unsubscribe_token_holder(&self, token: &str) -> anyhow::Result<Option<String>> {
        let t = token.to_string();
        self.call(move |c| who_has(c, &t, TokenKind::Unsubscribe))
            .await
    }
}

impl Store {
    /// The reader's reply and unsubscribe addresses (and so the digests' one-click links), when
    /// replies are read (`[imap]` configured).
    pub async fn reply_addresses(
        &self,
        config: &crate::config::Config,
        email: &SubscriberEmail,
    ) -> anyhow::Result<Option<crate::domain::ReplyAddresses>> {
        if config.imap.is_none() {
            return Ok(None);
        }
        let base = config.reply_address().map_err(|e| anyhow::anyhow!(e))?;
        let tokens = self.reply_tokens(email).await?;
        Ok(Some(crate::domain::ReplyAddresses::new(&base, &tokens)))
    }
}

/// New tokens for the reader: the old reply and unsubscribe addresses stop working.
pub fn rotate(conn: &Connection, subscriber: &str) -> rusqlite::Result<ReplyTokens> {
    conn.execute(
        "DELETE FROM reply_tokens WHERE subscriber = ?1",
        [subscriber],
    )?;
    tokens_for(conn, subscriber)
}

impl Store {
    /// New tokens for the reader: the old reply and unsubscribe addresses stop working.
    pub fn rotate_reply_tokens(&self, subscriber: &SubscriberEmail) -> anyhow::Result<ReplyTokens> {
        self.with(|c| rotate(c, subscriber.as_str()))
    }
}

/// The reader is gone: their tokens die with them.
pub fn forget(conn: &Connection, subscriber: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM reply_tokens WHERE subscriber = ?1",
        [subscriber],
    )?;
    Ok(())
}

/// The subscriber and day of the digest with this Message-ID (`<…>` included), if we sent one.
pub fn digest_by_message_id(
    conn: &Connection,
    message_id: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT subscriber, day FROM deliveries WHERE message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

impl Store {
    /// The subscriber and day of the digest with this Message-ID (`<…>` included), if we sent one.
    pub async fn digest_by_message_id(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Option<(String, String)>> {
        let id = message_id.to_string();
        self.call(move |c| digest_by_message_id(c, &id)).await
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub message_id: String,
    pub outcome: String,
    pub reply_status: Option<String>,
}

pub fn inbound(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<Inbound>> {
    conn.query_row(
        "SELECT message_id, outcome, reply_status FROM inbound WHERE message_id = ?1",
        [message_id],
        |r| {
            Ok(Inbound {
                message_id: r.get(0)?,
                outcome: r.get(1)?,
                reply_status: r.get(2)?,
            })
        },
    )
    .optional()
}

impl Store {
    /// The message with this Message-ID, if it was handled before.
    pub async fn inbound(&self, message_id: &str) -> anyhow::Result<Option<Inbound>> {
        let id = message_id.to_string();
        self.call(move |c| inbound(c, &id)).await
    }
}

/// The outcome a message has while it is being handled: recorded before anything in it is
/// parsed, so a message whose handling never finishes (a crash, a kill, a hang) is known on the
/// next poll and set aside instead of being tried again forever.
pub const TAKEN: &str = "taken";

/// Takes a message for handling: `None` when it is new (now recorded as `taken`), else how it
/// was recorded before (a `taken` outcome means an earlier handling never finished).
pub fn take_inbound(
    conn: &Connection,
    message_id: &str,
    sender: Option<&str>,
    fingerprint: Option<&str>,
) -> rusqlite::Result<Option<Inbound>> {
    let n = conn.execute(
        "INSERT INTO inbound (message_id, received_at, sender, outcome, detail, fingerprint)
         VALUES (?1, ?2, ?3, ?4, 'being handled', ?5) ON CONFLICT(message_id) DO NOTHING",
        params![message_id, now_utc(), sender, TAKEN, fingerprint],
    )?;
    if n == 1 {
        Ok(None)
    } else {
        inbound(conn, message_id)
    }
}

/// Records a handled message (and the answer to send) over its `taken` row, or as a new row.
/// Returns `false` when it was handled before.
#[allow(clippy::too_many_arguments)]
pub fn record_inbound(
    conn: &Connection,
    message_id: &str,
    sender: Option<&str>,
    subscriber: Option<&str>,
    outcome: &str,
    detail: Option<&str>,
    reply: Option<(&str, &[u8])>,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT INTO inbound (message_id, received_at, sender, subscriber, outcome, detail, reply, reply_to, reply_status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(message_id) DO UPDATE SET
             sender = excluded.sender, subscriber = excluded.subscriber, outcome = excluded.outcome,
             detail = excluded.detail, reply = excluded.reply, reply_to = excluded.reply_to,
             reply_status = excluded.reply_status
         WHERE inbound.outcome = 'taken'",
        params![
            message_id,
            now_utc(),
            sender,
            subscriber,
            outcome,
            detail,
            reply.map(|(_, m)| m),
            reply.map(|(to, _)| to),
            reply.map(|_| "pending")
        ],
    )?;
    Ok(n == 1)
}

impl Store {
    /// Takes a message for handling (see `take_inbound`).
    pub async fn take_inbound(
        &self,
        message_id: &str,
        sender: Option<&str>,
        fingerprint: Option<&str>,
    ) -> anyhow::Result<Option<Inbound>> {
        let (id, sender, f) = (
            message_id.to_string(),
            sender.map(str::to_string),
            fingerprint.map(str::to_string),
        );
        self.call(move |c| take_inbound(c, &id, sender.as_deref(), f.as_deref()))
            .await
    }

    /// Messages recorded for `subscriber` since `since` (RFC 3339) whose detail starts with
    /// `detail`.
    pub async fn inbound_since(
        &self,
        subscriber: &SubscriberEmail,
        detail: &str,
        since: &str,
    ) -> anyhow::Result<i64> {
        let (s, d, since) = (
            subscriber.to_string(),
            format!("{detail}%"),
            since.to_string(),
        );
        self.call(move |c| {
            c.query_row(
                "SELECT count(*) FROM inbound WHERE subscriber = ?1 AND detail LIKE ?2 AND received_at >= ?3",
                params![s, d, since],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The Message-ID of an earlier message with `fingerprint` under another Message-ID than
    /// `message_id` (a replay), if any.
    pub async fn replay_of(
        &self,
        message_id: &str,
        fingerprint: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let Some(f) = fingerprint.map(str::to_string) else {
            return Ok(None);
        };
        let id = message_id.to_string();
        self.call(move |c| {
            c.query_row(
                "SELECT message_id FROM inbound WHERE fingerprint = ?1 AND message_id != ?2 LIMIT 1",
                params![f, id],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Records a handled message (and the answer to send: recipient, message). Returns `false`
    /// when it was handled before.
    pub async fn record_inbound(
        &self,
        message_id: &str,
        sender: Option<&str>,
        subscriber: Option<&str>,
        outcome: &str,
        detail: &str,
        answer: Option<(String, Vec<u8>)>,
    ) -> anyhow::Result<bool> {
        let (id, sender, subscriber, outcome, detail) = (
            message_id.to_string(),
            sender.map(str::to_string),
            subscriber.map(str::to_string),
            outcome.to_string(),
            detail.to_string(),
        );
        self.call(move |c| {
            record_inbound(
                c,
                &id,
                sender.as_deref(),
                subscriber.as_deref(),
                &outcome,
                Some(&detail),
                answer
                    .as_ref()
                    .map(|(to, m): &(String, Vec<u8>)| (to.as_str(), m.as_slice())),
            )
        })
        .await
    }
}

/// Answers recorded but not yet sent: (message_id, recipient, message).
pub fn pending_replies(conn: &Connection) -> rusqlite::Result<Vec<(String, String, Vec<u8>)>> {
    let mut stmt = conn.prepare(
        "SELECT message_id, reply_to, reply FROM inbound WHERE reply_status = 'pending' ORDER BY received_at",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// What became of the answer to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    Pending,
    Sent,
    Failed,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::Pending => "pending",
            ReplyStatus::Sent => "sent",
            ReplyStatus::Failed => "failed",
        }
    }
}

pub fn mark_reply(
    conn: &Connection,
    message_id: &str,
    status: ReplyStatus,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE inbound SET reply_status = ?2 WHERE message_id = ?1",
        params![message_id, status.as_str()],
    )?;
    Ok(())
}

/// The Message-ID of the latest reply from `subscriber` that changed something (not an undo).
pub fn last_changing_reply(
    conn: &Connection,
    subscriber: &str,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT message_id FROM inbound WHERE subscriber = ?1 AND outcome IN ('applied', 'undid') ORDER BY received_at DESC, rowid DESC LIMIT 1",
        [subscriber],
        |r| r.get(0),
    )
    .optional()
}

impl Store {
    /// The Message-ID of the reader's latest reply that changed something (not an undo).
    pub async fn last_changing_reply(
        &self,
        subscriber: &SubscriberEmail,
    ) -> anyhow::Result<Option<String>> {
        let s = subscriber.to_string();
        self.call(move |c| last_changing_reply(c, &s)).await
    }
}

/// Whether this reply was itself an `undo` (an undo of an undo is refused).
pub fn was_undo(conn: &Connection, message_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT outcome = 'undid' FROM inbound WHERE message_id = ?1",
        [message_id],
        |r| r.get(0),
    )
    .optional()
    .map(|v| v.unwrap_or(false))
}

impl Store {
    /// Whether reply `message_id` was itself an `undo`.
    pub async fn was_undo(&self, message_id: &str) -> anyhow::Result<bool> {
        let id = message_id.to_string();
        self.call(move |c| was_undo(c, &id)).await
    }
}

/// Marks a reply as undone, so the next `undo` goes one further back.
pub fn mark_undone(conn: &Connection, message_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE inbound SET outcome = 'undone' WHERE message_id = ?1",
        [message_id],
    )?;
    Ok(())
}

impl Store {
    /// Marks reply `message_id` as undone.
    pub async fn mark_undone(&self, message_id: &str) -> anyhow::Result<()> {
        let id = message_id.to_string();
        self.call(move |c| mark_undone(c, &id)).await
    }
}

/// One message read from the inbox, for `paperboy inbox log`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogEntry {
    pub received_at: String,
    pub message_id: String,
    pub sender: Option<String>,
    pub subscriber: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub reply_status: Option<String>,
}

/// The latest messages read from the inbox, newest first.
pub fn log(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<LogEntry>> {
    let mut stmt = conn.prepare(
        "SELECT received_at, message_id, sender, subscriber, outcome, detail, reply_status
         FROM inbound ORDER BY received_at DESC, rowid DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(LogEntry {
            received_at: r.get(0)?,
            message_id: r.get(1)?,
            sender: r.get(2)?,
            subscriber: r.get(3)?,
            outcome: r.get(4)?,
            detail: r.get(5)?,
            reply_status: r.get(6)?,
        })
    })?;
    rows.collect()
}

impl Store {
    /// The latest `limit` messages read from the inbox, newest first.
    pub fn inbox_log(&self, limit: usize) -> anyhow::Result<Vec<LogEntry>> {
        self.with(|c| log(c, limit))
    }
}

/// The row number of an inbox entry (for keying its alert).
pub fn entry_number(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT rowid FROM inbound WHERE message_id = ?1",
        [message_id],
        |r| r.get(0),
    )
    .optional()
}

/// When the newest message read from the inbox arrived (`None`: none read yet).
pub fn last_received_at(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT max(received_at) FROM inbound", [], |r| r.get(0))
}

/// How many answers are recorded but not yet sent.
pub fn pending_reply_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM inbound WHERE reply_status = 'pending'",
        [],
        |r| r.get(0),
    )
}

impl Store {
    /// When the newest message read from the inbox arrived, and how many answers wait to be sent.
    pub fn inbox_status(&self) -> anyhow::Result<(Option<String>, i64)> {
        self.with(|c| Ok((last_received_at(c)?, pending_reply_count(c)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn the_last_message_and_the_answers_waiting_are_counted() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.with(|c| last_received_at(c)).unwrap(), None);
        assert_eq!(store.with(|c| pending_reply_count(c)).unwrap(), 0);
        store
            .with(|c| {
                record_inbound(
                    c,
                    "<a@x>",
                    None,
                    None,
                    "answered",
                    None,
                    Some(("a@b.org", b"hi")),
                )?;
                record_inbound(c, "<b@x>", None, None, "ignored", None, None)
            })
            .unwrap();
        assert!(store.with(|c| last_received_at(c)).unwrap().is_some());
        assert_eq!(store.with(|c| pending_reply_count(c)).unwrap(), 1);
        store
            .with(|c| mark_reply(c, "<a@x>", ReplyStatus::Sent))
            .unwrap();
        assert_eq!(store.with(|c| pending_reply_count(c)).unwrap(), 0);
    }
}
