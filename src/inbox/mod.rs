//! Replies: who sent a message and whether they may change anything (`identify`), what they
//! asked for (`commands`, `reply` for the typed text), applying it (`apply`, `state`, `library`,
//! `join` for subscribing by mail), and the answer, queued in the outbox with the message's
//! record. `poll` is one pass over the IMAP mailbox (`mail::imap`); `paperboy inbox parse` runs
//! the same logic on a single file.

use chrono::NaiveDate;
use lettre::Address;
use sha2::{Digest as _, Sha256};

mod apply;
mod authres;
pub mod commands;
mod identify;
mod join;
mod library;
mod message;
pub mod poll;
pub mod reply;
mod state;
pub mod templates;

pub use join::{subscribe_request, Wanted};
pub use message::body_text;
pub use state::topic_lines;

use crate::config::Config;
use crate::domain::ReplyAddresses;
use crate::domain::Subscriber;
use crate::domain::SubscriberEmail;
use crate::mail::message::build_answer;
use crate::scoring::Scorer;
use crate::store::audit::Actor;
use crate::store::Store;
use crate::subscribers::admin::{Change, Subscribers};
use crate::subscribers::edit::FieldValue;
use crate::support::clock::Clock;
use crate::support::text::hex;
use commands::Parsed;
use templates::{fill, Templates};

/// What handling one message came to: (outcome, detail, subscriber, the answer to send as
/// (recipient, message bytes)).
type Handling = (Outcome, String, Option<String>, Option<(String, Vec<u8>)>);

/// What became of a message in the inbox (stored as its `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The reader's commands changed their entry.
    Applied,
    /// Answered without changing anything (help, topics, a note).
    Answered,
    /// An earlier reply's changes were undone.
    Undid,
    /// Not allowed to change anything (forged, foreign token, stranger).
    Rejected,
    /// Not meant for paperboy (auto-replies, bounces, oversized).
    Ignored,
    /// Handling it failed; nothing was changed and the admin is told.
    Failed,
    /// Handled before (or by another poll at the same time).
    Duplicate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Answered => "answered",
            Outcome::Undid => "undid",
            Outcome::Rejected => "rejected",
            Outcome::Ignored => "ignored",
            Outcome::Failed => "failed",
            Outcome::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Commands applied from one reply, at most.
pub const MAX_COMMANDS: usize = 50;
/// Lines of a reply read, at most.
pub const MAX_LINES: usize = 200;

/// Messages larger than this are never treated as commands.
pub const MAX_SIZE: usize = 1024 * 1024;

/// Who a message is from, as far as paperboy is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A subscriber's own reply: the token or the digest it answers belongs to the sender.
    Subscriber {
        email: SubscriberEmail,
        how: String,
        digest_day: Option<NaiveDate>,
    },
    /// A message to a subscriber's unsubscribe address. From the reader's own address it
    /// unsubscribes; from anyone else (a forwarded digest) it only asks the reader to confirm.
    Unsubscribe {
        email: SubscriberEmail,
        by_owner: bool,
    },
    /// "subscribe" from someone not subscribed (`[subscribe] open`): a confirmation goes to
    /// that address.
    Subscribe { email: SubscriberEmail },
    /// A reply to a subscribe confirmation (its one-time token); the sender is checked against
    /// the request.
    Join { token: String },
    /// Not allowed to change anything (forged, foreign token, stranger). Logged, not answered.
    Rejected(String),
    /// Not meant for paperboy (auto-replies, bounces, oversized). Logged, not answered.
    Ignored(String),
}

/// How an unsubscribe request from another address is recorded (its detail starts so).
const CONFIRM_UNSUBSCRIBE: &str = "unsubscribe requested by";

#[derive(Debug, Clone)]
pub struct Analysis {
    pub message_id: String,
    pub from: Option<String>,
    pub subject: String,
    pub auth: Auth,
    /// What the sender wrote above the quote.
    pub text: String,
    pub parsed: Parsed,
    /// A `.bib` file attached to an authenticated reply (their library).
    pub library: Option<String>,
    /// Its sender, date, subject and text, hashed: the same mail under another Message-ID is a
    /// replay. `None` for what could not be read.
    pub fingerprint: Option<String>,
}

impl Analysis {
    /// A message that could not even be analysed (recorded, moved aside, never retried).
    fn unreadable(raw: &[u8], why: String) -> Analysis {
        Analysis {
            message_id: format!("<{}@paperboy.invalid>", &hex(&Sha256::digest(raw))[..32]),
            from: None,
            subject: String::new(),
            auth: Auth::Rejected(format!("could not be read: {why}")),
            text: String::new(),
            parsed: Parsed::default(),
            library: None,
            fingerprint: None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (status, who, why) = match &self.auth {
            Auth::Subscriber { email, how, .. } => {
                ("authenticated", Some(email.to_string()), how.clone())
            }
            Auth::Unsubscribe { email, by_owner } => (
                "unsubscribe",
                Some(email.to_string()),
                if *by_owner {
                    "unsubscribe address, from the reader".into()
                } else {
                    "unsubscribe address, from someone else: the reader is asked to confirm".into()
                },
            ),
            Auth::Subscribe { email } => (
                "subscribe",
                Some(email.to_string()),
                "a subscribe request: a confirmation goes to this address".into(),
            ),
            Auth::Join { .. } => (
                "confirmation",
                None,
                "a reply to a subscribe confirmation".into(),
            ),
            Auth::Rejected(why) => ("rejected", None, why.clone()),
            Auth::Ignored(why) => ("ignored", None, why.clone()),
        };
        serde_json::json!({
            "message_id": self.message_id,
            "from": self.from,
            "subject": self.subject,
            "status": status,
            "subscriber": who,
            "why": why,
            "text": self.text,
            "commands": self.parsed.commands.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "not_understood": self.parsed.other,
            "invalid": self.parsed.invalid,
        })
    }
}

/// What handling a message came to.
#[derive(Debug, Clone)]
pub struct Handled {
    pub message_id: String,
    pub outcome: Outcome,
    pub detail: String,
    pub subscriber: Option<String>,
}

impl Handled {
    /// Whether the message belongs in the "rejected" folder.
    /// Goes to the rejected folder (refused, or failed to be handled).
    pub fn rejected(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Rejected | Outcome::Ignored | Outcome::Failed
        )
    }
}

/// What handling replies works with, lent by the composition root.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    /// The model, for replies that ask it (a library's interests); keywords need none.
    pub scorer: &'a Scorer,
    pub clock: &'a Clock,
    pub from: &'a lettre::message::Mailbox,
}

pub struct Inbox<'a> {
    pub ctx: Ctx<'a>,
    pub subs: Subscribers<'a>,
    pub templates: Templates,
    pub reply_base: Address,
}

impl<'a> Inbox<'a> {
    pub fn new(ctx: Ctx<'a>) -> anyhow::Result<Inbox<'a>> {
        let reply_base = ctx.config.reply_address().map_err(|e| anyhow::anyhow!(e))?;
        Ok(Inbox {
            subs: Subscribers::new(ctx.config),
            templates: Templates::load(&ctx.config.resolve(std::path::Path::new("emails"))),
            reply_base,
            ctx,
        })
    }

    /// `digest+TAG@domain` → `TAG`, for our own reply address only.
    fn tag_of(&self, addr: &str) -> Option<String> {
        let (local, domain) = addr.rsplit_once('@')?;
        let (base, tag) = local.split_once('+')?;
        (base.eq_ignore_ascii_case(self.reply_base.user())
            && domain.eq_ignore_ascii_case(self.reply_base.domain())
            && !tag.is_empty())
        .then(|| tag.to_ascii_lowercase())
    }

    /// Handles one message once: applies what an authenticated subscriber asked for, records the
    /// message and the answer to send (sent by `send_pending`).
    pub async fn handle(&self, raw: &[u8]) -> anyhow::Result<Handled> {
        let a = match self.analyse(raw).await {
            Ok(a) => a,
            Err(e) => Analysis::unreadable(raw, format!("{e:#}")),
        };
        let id = a.message_id.clone();
        if let Some(first) = self
            .ctx
            .store
            .replay_of(&id, a.fingerprint.as_deref())
            .await?
        {
            let detail = format!("the same mail (sender, date, subject and text) as {first}, sent again under another Message-ID: a replay, not applied");
            tracing::warn!(message_id = %id, from = a.from.as_deref().unwrap_or("-"), "{detail}");
            return Ok(Handled {
                message_id: id,
                outcome: Outcome::Duplicate,
                detail,
                subscriber: None,
            });
        }
        // Taken (recorded) before any command in it is applied: if handling never finishes, the
        // next poll sets it aside (rejected folder, one alert) instead of choking on it again.
        match self
            .ctx
            .store
            .take_inbound(&id, a.from.as_deref(), a.fingerprint.as_deref())
            .await?
        {
            None => {}
            Some(prev) if prev.outcome == crate::store::inbox::TAKEN => {
                let detail = "an earlier attempt to handle it never finished (paperboy stopped or was killed while handling it); it is not tried again";
                tracing::error!(message_id = %id, "{detail}");
                self.record(&a, Outcome::Failed, detail, None, None).await?;
                return Ok(Handled {
                    message_id: id,
                    outcome: Outcome::Failed,
                    detail: detail.into(),
                    subscriber: None,
                });
            }
            Some(prev) => {
                return Ok(Handled {
                    message_id: id,
                    outcome: Outcome::Duplicate,
                    detail: format!("handled before ({})", prev.outcome),
                    subscriber: None,
                })
            }
        }
        let handled = match &a.auth {
            Auth::Rejected(why) | Auth::Ignored(why) => {
                let outcome = if matches!(a.auth, Auth::Rejected(_)) {
                    Outcome::Rejected
                } else {
                    Outcome::Ignored
                };
                tracing::warn!(message_id = %id, from = a.from.as_deref().unwrap_or("-"), reason = %why, "{outcome} a message in the inbox");
                Ok((outcome, why.clone(), None, None))
            }
            Auth::Unsubscribe { email, by_owner } => {
                if *by_owner {
                    self.unsubscribe(&a, email).await
                } else {
                    self.confirm_unsubscribe(&a, email).await
                }
            }
            Auth::Subscriber {
                email, digest_day, ..
            } => self.apply(&a, email, *digest_day).await,
            Auth::Subscribe { email } => self.request_subscription(&a, email).await,
            Auth::Join { token } => self.confirm_subscription(&a, token).await,
        };
        // An error handling one message never blocks the queue: it is recorded as failed, moved
        // to the rejected folder, the reader told when they are who they say, the admin alerted.
        let (outcome, detail, subscriber, answer) = match handled {
            Ok(h) => h,
            Err(e) => self.failed(&a, &id, e).await,
        };
        let recorded = self
            .record(&a, outcome, &detail, subscriber.clone(), answer)
            .await?;
        if !recorded {
            return Ok(Handled {
                message_id: id,
                outcome: Outcome::Duplicate,
                detail: "handled by another poll".into(),
                subscriber,
            });
        }
        tracing::info!(message_id = %id, subscriber = subscriber.as_deref().unwrap_or("-"), %outcome, %detail, "handled a reply");
        Ok(Handled {
            message_id: id,
            outcome,
            detail,
            subscriber,
        })
    }

    /// An error handling one message: recorded as failed (it goes to the rejected folder), the
    /// reader told when they are who they say.
    async fn failed(&self, a: &Analysis, id: &str, e: anyhow::Error) -> Handling {
        let why = format!("{e:#}");
        tracing::error!(message_id = %id, error = %why, "could not handle a message; it goes to the rejected folder");
        let (who, answer) = match &a.auth {
            Auth::Subscriber { email, .. }
            | Auth::Unsubscribe {
                email,
                by_owner: true,
            } => {
                let answer = match self.current(email) {
                    Ok(Some(sub)) => {
                        let body = format!(
                                "Hello {},\n\nSomething went wrong while handling your message; nothing was changed.\nThe person who runs paperboy has been told. Please try again later.\n",
                                sub.name
                            );
                        self.answer(a, &sub, &body, true).await.ok()
                    }
                    _ => None,
                };
                (Some(email.to_string()), answer)
            }
            _ => (None, None),
        };
        (Outcome::Failed, why, who, answer)
    }

    /// Records the message as handled with its answer (queued for the outbox); `false` if
    /// another poll recorded it first.
    async fn record(
        &self,
        a: &Analysis,
        outcome: Outcome,
        detail: &str,
        subscriber: Option<String>,
        answer: Option<(String, Vec<u8>)>,
    ) -> anyhow::Result<bool> {
        self.ctx
            .store
            .record_inbound(
                &a.message_id,
                a.from.as_deref(),
                subscriber.as_deref(),
                outcome.as_str(),
                detail,
                answer,
            )
            .await
    }

    async fn unsubscribe(&self, a: &Analysis, email: &SubscriberEmail) -> anyhow::Result<Handling> {
        let Some(sub) = self.current(email)? else {
            return Ok((
                Outcome::Ignored,
                format!("{email} is not subscribed (any more)"),
                Some(email.to_string()),
                None,
            ));
        };
        // Paused and marked in the audit trail, not deleted: the entry and its comments stay,
        // and "undo" (or the admin's `subscribers resume`) brings the reader back.
        let actor = Actor::Reply(a.message_id.clone());
        self.subs.apply(
            self.ctx.store,
            email,
            Change::SetMany {
                action: "unsubscribe (by mail)".into(),
                sets: vec![("paused".into(), FieldValue::Bool(true))],
            },
            &actor,
        )?;
        let body = fill(&self.templates.unsubscribed, &[("name", &sub.name)]);
        let answer = self.answer(a, &sub, &body, true).await?;
        Ok((
            Outcome::Applied,
            "unsubscribed (paused; undo or resume brings them back)".into(),
            Some(email.to_string()),
            Some(answer),
        ))
    }

    /// Someone other than the reader wrote to their unsubscribe address (a forwarded digest):
    /// nothing changes; the reader is asked, at their own address, to confirm by replying.
    async fn confirm_unsubscribe(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
    ) -> anyhow::Result<Handling> {
        let Some(sub) = self.current(email)? else {
            return Ok((
                Outcome::Ignored,
                format!("{email} is not subscribed (any more)"),
                Some(email.to_string()),
                None,
            ));
        };
        // One confirmation a day at most: fifteen forged requests are not fifteen mails.
        let since = (self.ctx.clock.now() - chrono::Duration::hours(24))
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if self
            .ctx
            .store
            .inbound_since(email, CONFIRM_UNSUBSCRIBE, &since)
            .await?
            > 0
        {
            return Ok((
                Outcome::Ignored,
                "unsubscribe requested again; the reader was asked to confirm within the last 24 hours, so is not asked again".into(),
                Some(email.to_string()),
                None,
            ));
        }
        let body = fill(
            &self.templates.confirm_unsubscribe,
            &[
                ("name", &sub.name),
                ("sender", a.from.as_deref().unwrap_or("an unknown sender")),
            ],
        );
        // Not in the stranger's thread: a new message to the reader.
        let answer = self.answer(a, &sub, &body, false).await?;
        tracing::warn!(subscriber = %email, from = a.from.as_deref().unwrap_or("-"), "an unsubscribe request from another address; asked the reader to confirm");
        Ok((
            Outcome::Answered,
            format!(
                "{CONFIRM_UNSUBSCRIBE} {}; the reader was asked to confirm",
                a.from.as_deref().unwrap_or("an unknown sender")
            ),
            Some(email.to_string()),
            Some(answer),
        ))
    }

    fn current(&self, email: &SubscriberEmail) -> anyhow::Result<Option<Subscriber>> {
        let all = self
            .subs
            .load()
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        Ok(all.into_iter().find(|s| &s.email == email))
    }

    /// An answer in the thread of `a`, to the subscriber's own address.
    async fn answer(
        &self,
        a: &Analysis,
        sub: &Subscriber,
        body: &str,
        threaded: bool,
    ) -> anyhow::Result<(String, Vec<u8>)> {
        let addrs = self.reply_addresses(&sub.email).await?;
        let subject = if a.subject.to_lowercase().starts_with("re:") {
            a.subject.clone()
        } else {
            format!("Re: {}", a.subject)
        };
        let in_reply_to = threaded.then_some(a.message_id.as_str());
        let bytes = build_answer(self.ctx.from, sub, &subject, in_reply_to, &addrs, body)?;
        Ok((sub.email.to_string(), bytes))
    }

    pub async fn reply_addresses(&self, email: &SubscriberEmail) -> anyhow::Result<ReplyAddresses> {
        let token = self.ctx.store.reply_tokens(email).await?;
        Ok(ReplyAddresses::new(&self.reply_base, &token))
    }
}
