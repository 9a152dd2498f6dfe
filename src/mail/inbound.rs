//! Replies: who sent a message and whether they may change anything, what they asked for, and
//! the answer. The IMAP side (fetching, flagging, moving) is in `imap.rs`; this is the logic,
//! which `paperboy inbox parse` runs on a single file too.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::NaiveDate;
use lettre::Address;
use mail_parser::{HeaderValue, MessageParser, PartType};
use sha2::{Digest as _, Sha256};

use super::commands::{self, Command, Parsed, TopicRef};
use super::outbound::{build_answer, ReplyAddresses};
use super::reply;
use super::templates::{fill, Templates};
use crate::domain::SubscriberEmail;
use crate::pipeline::App;
use crate::scoring::Scorer;
use crate::store::audit::Actor;
use crate::store::{deliveries, inbox};
use crate::subscribers::admin::{Change, Subscribers};
use crate::subscribers::edit::FieldValue;
use crate::subscribers::{hex, Subscriber};

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
    /// Not allowed to change anything (forged, foreign token, stranger). Logged, not answered.
    Rejected(String),
    /// Not meant for paperboy (auto-replies, bounces, oversized). Logged, not answered.
    Ignored(String),
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub message_id: String,
    pub from: Option<String>,
    pub subject: String,
    pub auth: Auth,
    /// What the sender wrote above the quote.
    pub text: String,
    pub parsed: Parsed,
}

impl Analysis {
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
    /// `applied`, `answered`, `rejected`, `ignored`, or `duplicate` (handled before).
    pub outcome: String,
    pub detail: String,
    pub subscriber: Option<String>,
}

impl Handled {
    /// Whether the message belongs in the "rejected" folder.
    pub fn rejected(&self) -> bool {
        matches!(self.outcome.as_str(), "rejected" | "ignored")
    }
}

pub struct Inbox<'a> {
    pub app: &'a App,
    pub subs: Subscribers<'a>,
    pub templates: Templates,
    pub reply_base: Address,
}

impl<'a> Inbox<'a> {
    pub fn new(app: &'a App) -> anyhow::Result<Inbox<'a>> {
        let reply_base = app.config.reply_address().map_err(|e| anyhow::anyhow!(e))?;
        Ok(Inbox {
            subs: Subscribers::new(&app.config),
            templates: Templates::load(&app.config.resolve(std::path::Path::new("emails"))),
            reply_base,
            app,
        })
    }

    /// Reads one message: who sent it, may they change anything, what did they write.
    pub async fn analyse(&self, raw: &[u8]) -> anyhow::Result<Analysis> {
        let fallback_id = format!("<{}@paperboy.invalid>", &hex(&Sha256::digest(raw))[..32]);
        let mut a = Analysis {
            message_id: fallback_id,
            from: None,
            subject: String::new(),
            auth: Auth::Ignored(String::new()),
            text: String::new(),
            parsed: Parsed::default(),
        };
        if raw.len() > MAX_SIZE {
            a.auth = Auth::Ignored(format!(
                "{} bytes is over the 1 MiB limit for replies",
                raw.len()
            ));
            return Ok(a);
        }
        let Some(msg) = MessageParser::default().parse(raw) else {
            a.auth = Auth::Rejected("not a mail message".into());
            return Ok(a);
        };
        if let Some(id) = msg.message_id() {
            a.message_id = format!("<{id}>");
        }
        a.from = msg
            .from()
            .and_then(|f| f.first())
            .and_then(|f| f.address())
            .map(|s| s.to_lowercase());
        a.subject = msg.subject().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = msg
            .headers_raw()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let header = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };

        if let Some(why) = automatic(&headers, a.from.as_deref(), &a.subject, &msg) {
            a.auth = Auth::Ignored(why);
            return Ok(a);
        }

        // Tokens in the addresses the message was sent to.
        let mut reply_tokens = Vec::new();
        let mut unsub_tokens = Vec::new();
        for name in ["to", "cc", "delivered-to", "x-original-to", "envelope-to"] {
            for value in header(name) {
                for addr in addresses_in(value) {
                    if let Some(tag) = self.tag_of(&addr) {
                        match tag.strip_prefix("unsub-") {
                            Some(t) => unsub_tokens.push(t.to_string()),
                            None => reply_tokens.push(tag),
                        }
                    }
                }
            }
        }
        let store = &self.app.store;
        if let Some(t) = unsub_tokens.first().cloned() {
            a.auth = match store
                .call(move |c| inbox::who_has(c, &t, inbox::TokenKind::Unsubscribe))
                .await?
            {
                Some(s) => Auth::Unsubscribe {
                    by_owner: a.from.as_deref() == Some(s.as_str()),
                    email: SubscriberEmail::parse(&s).context("stored subscriber")?,
                },
                None => Auth::Rejected("an unsubscribe address with an unknown token".into()),
            };
            return Ok(a);
        }
        let mut by_token = None;
        if let Some(t) = reply_tokens.first().cloned() {
            match store
                .call(move |c| inbox::who_has(c, &t, inbox::TokenKind::Reply))
                .await?
            {
                Some(s) => by_token = Some(s),
                None => {
                    a.auth = Auth::Rejected("the reply address carries an unknown token".into());
                    return Ok(a);
                }
            }
        }
        let mut refs: Vec<String> = ids_of(msg.in_reply_to());
        refs.extend(ids_of(msg.references()));
        let mut by_digest = None;
        for r in refs.iter().rev() {
            let id = format!("<{r}>");
            if let Some(found) = store
                .call(move |c| inbox::digest_by_message_id(c, &id))
                .await?
            {
                by_digest = Some(found);
                break;
            }
        }
        let claimed = match (&by_token, &by_digest) {
            (Some(t), Some((d, _))) if t != d => {
                a.auth = Auth::Rejected(format!(
                    "the token belongs to {t} but the digest replied to was {d}'s"
                ));
                return Ok(a);
            }
            (Some(t), _) => t.clone(),
            (None, Some((d, _))) => d.clone(),
            (None, None) => {
                a.auth = Auth::Rejected(
                    "no reply token and not a reply to a digest paperboy sent".into(),
                );
                return Ok(a);
            }
        };
        if a.from.as_deref() != Some(claimed.as_str()) {
            a.auth = Auth::Rejected(format!(
                "sent from {} but the token or digest belongs to {claimed}",
                a.from.as_deref().unwrap_or("an unknown sender")
            ));
            return Ok(a);
        }
        let how = match (&by_token, &by_digest) {
            (Some(_), Some((_, day))) => format!("reply token, and a reply to the digest of {day}"),
            (Some(_), None) => "reply token".to_string(),
            (None, Some((_, day))) => format!("a reply to the digest of {day}"),
            (None, None) => unreachable!("handled above"),
        };
        a.auth = Auth::Subscriber {
            email: SubscriberEmail::parse(&claimed).context("stored subscriber")?,
            how,
            digest_day: by_digest.as_ref().and_then(|(_, d)| d.parse().ok()),
        };
        let body = body_text(&msg);
        let typed = reply::typed_text(&body);
        // Paperboy's own lines (the digest replied to, the help mail) are never commands.
        let (e, day) = (
            claimed.clone(),
            by_digest.as_ref().and_then(|(_, d)| d.parse().ok()),
        );
        let digest = store
            .call(move |c| match day {
                Some(day) => deliveries::get(c, &e, day),
                None => deliveries::latest_sent(c, &e),
            })
            .await?;
        let digest_text = digest.map(|d| sent_text(&d.message)).unwrap_or_default();
        let known = reply::known_lines(&[
            &digest_text,
            &self.templates.help,
            &self.templates.confirmation,
        ]);
        a.text = reply::without_known(&typed, &known);
        a.parsed = commands::parse(&a.text);
        Ok(a)
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
        let a = self.analyse(raw).await?;
        let id = a.message_id.clone();
        let seen = {
            let id = id.clone();
            self.app.store.call(move |c| inbox::inbound(c, &id)).await?
        };
        if let Some(prev) = seen {
            return Ok(Handled {
                message_id: id,
                outcome: "duplicate".into(),
                detail: format!("handled before ({})", prev.outcome),
                subscriber: None,
            });
        }
        let (outcome, detail, subscriber, answer) = match &a.auth {
            Auth::Rejected(why) | Auth::Ignored(why) => {
                let outcome = if matches!(a.auth, Auth::Rejected(_)) {
                    "rejected"
                } else {
                    "ignored"
                };
                tracing::warn!(message_id = %id, from = a.from.as_deref().unwrap_or("-"), reason = %why, "{outcome} a message in the inbox");
                (outcome.to_string(), why.clone(), None, None)
            }
            Auth::Unsubscribe { email, by_owner } => {
                if *by_owner {
                    self.unsubscribe(&a, email).await?
                } else {
                    self.confirm_unsubscribe(&a, email).await?
                }
            }
            Auth::Subscriber {
                email, digest_day, ..
            } => self.apply(&a, email, *digest_day).await?,
        };
        let recorded = {
            let (id, from, sub, out, det) = (
                id.clone(),
                a.from.clone(),
                subscriber.clone(),
                outcome.clone(),
                detail.clone(),
            );
            let answer = answer.clone();
            self.app
                .store
                .call(move |c| {
                    inbox::record_inbound(
                        c,
                        &id,
                        from.as_deref(),
                        sub.as_deref(),
                        &out,
                        Some(&det),
                        answer
                            .as_ref()
                            .map(|(to, m): &(String, Vec<u8>)| (to.as_str(), m.as_slice())),
                    )
                })
                .await?
        };
        if !recorded {
            return Ok(Handled {
                message_id: id,
                outcome: "duplicate".into(),
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

    async fn unsubscribe(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
    ) -> anyhow::Result<(String, String, Option<String>, Option<(String, Vec<u8>)>)> {
        let Some(sub) = self.current(email)? else {
            return Ok((
                "ignored".into(),
                format!("{email} is not subscribed (any more)"),
                Some(email.to_string()),
                None,
            ));
        };
        // Paused and marked in the audit trail, not deleted: the entry and its comments stay,
        // and "undo" (or the admin's `subscribers resume`) brings the reader back.
        let actor = Actor::Reply(a.message_id.clone());
        self.subs.apply(
            &self.app.store,
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
            "applied".into(),
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
    ) -> anyhow::Result<(String, String, Option<String>, Option<(String, Vec<u8>)>)> {
        let Some(sub) = self.current(email)? else {
            return Ok((
                "ignored".into(),
                format!("{email} is not subscribed (any more)"),
                Some(email.to_string()),
                None,
            ));
        };
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
            "answered".into(),
            format!(
                "unsubscribe requested by {}; the reader was asked to confirm",
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

    async fn apply(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        digest_day: Option<NaiveDate>,
    ) -> anyhow::Result<(String, String, Option<String>, Option<(String, Vec<u8>)>)> {
        let who = Some(email.to_string());
        let mut parsed = a.parsed.clone();
        let actor = Actor::Reply(a.message_id.clone());

        let Some(sub) = self.current(email)? else {
            if parsed.commands == vec![Command::Undo] {
                return self.undo(a, email, None).await;
            }
            return Ok((
                "rejected".into(),
                format!("{email} is not a subscriber (any more)"),
                who,
                None,
            ));
        };

        // Free text that is not a command: ask the model, when there is one.
        let mut interpreted = false;
        if parsed.commands.is_empty() && !parsed.other.is_empty() {
            if let Some(lines) = self.interpret(&sub, &parsed.other.join("\n")).await? {
                let from_model = commands::parse(&lines.join("\n"));
                parsed.invalid.extend(
                    from_model
                        .invalid
                        .iter()
                        .map(|i| format!("{i} (suggested by the model)")),
                );
                parsed.invalid.extend(
                    from_model
                        .other
                        .iter()
                        .map(|i| format!("{i} (suggested by the model, not a command)")),
                );
                interpreted = !from_model.commands.is_empty();
                parsed.commands = from_model.commands;
            }
        }

        if parsed.commands.contains(&Command::Unsubscribe) {
            return self.unsubscribe(a, email).await;
        }
        if parsed.commands.contains(&Command::Undo) {
            return self.undo(a, email, Some(&sub)).await;
        }

        let mut st = State::of(&sub);
        let mut notes = Vec::new();
        let mut examples = Vec::new();
        let mut want_help = parsed.commands.is_empty() || parsed.commands.contains(&Command::Help);
        for c in &parsed.commands {
            match c {
                Command::MoreLike(n) | Command::LessLike(n) => {
                    let more = matches!(c, Command::MoreLike(_));
                    match self.paper_in_digest(email, digest_day, *n).await? {
                        Ok(ex) => {
                            st.changes.push(format!(
                                "{} papers like {n}. {}",
                                if more { "more" } else { "fewer" },
                                ex.1
                            ));
                            examples.push(inbox::Example {
                                paper_id: ex.0,
                                more,
                                title: ex.1,
                            });
                        }
                        Err(why) => notes.push(format!("{c}: {why}")),
                    }
                }
                Command::Help | Command::ListTopics => want_help |= matches!(c, Command::Help),
                other => {
                    if let Err(why) = st.apply(other) {
                        notes.push(format!("{c}: {why}"));
                    }
                }
            }
        }
        notes.extend(parsed.invalid.iter().cloned());
        let not_understood: Vec<String> = parsed
            .other
            .iter()
            .filter(|_| !interpreted)
            .cloned()
            .collect();

        let sets = st.sets(&sub);
        let mut changed = !examples.is_empty();
        let mut topics_now = numbered(&st.topics);
        if !sets.is_empty() {
            let action = format!(
                "reply: {}",
                parsed
                    .commands
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            match self.subs.apply(
                &self.app.store,
                email,
                Change::SetMany { action, sets },
                &actor,
            ) {
                Ok(applied) => {
                    changed |= applied.changed;
                    if let Some(after) = applied.after {
                        topics_now = numbered(&topic_lines(&after.topics));
                    }
                }
                Err(e) => {
                    notes.push(format!(
                        "nothing was changed: {}",
                        e.to_string().lines().last().unwrap_or("").trim()
                    ));
                    st.changes.clear();
                    examples.clear();
                    changed = false;
                }
            }
        }
        for ex in &examples {
            let (e, ex, id) = (email.to_string(), ex.clone(), a.message_id.clone());
            self.app
                .store
                .call(move |c| inbox::add_example(c, &e, &ex, &id))
                .await?;
        }

        let mut extra = String::new();
        if interpreted {
            extra.push_str("\n(I read your message as the commands above.)\n");
        }
        if !notes.is_empty() {
            extra.push_str("\nCould not do:\n");
            for n in &notes {
                extra.push_str(&format!("  - {n}\n"));
            }
        }
        if !not_understood.is_empty() && !changed {
            extra.push_str("\nI did not understand:\n");
            for n in &not_understood {
                extra.push_str(&format!("  > {n}\n"));
            }
        }
        let (outcome, body) = if changed {
            let lines: Vec<String> = st.changes.iter().map(|c| format!("  - {c}")).collect();
            let body = fill(
                &self.templates.confirmation,
                &[
                    ("name", &sub.name),
                    ("changes", &lines.join("\n")),
                    ("topics", &topics_now),
                ],
            );
            ("applied", format!("{}{extra}", body.trim_end()))
        } else if want_help || !notes.is_empty() || !not_understood.is_empty() {
            let body = fill(
                &self.templates.help,
                &[("name", &sub.name), ("topics", &topics_now)],
            );
            ("answered", format!("{}\n{extra}", body.trim_end()))
        } else {
            // Only "topics": the list is the answer.
            let body = format!(
                "Hello {},\n\nYour topics now:\n{topics_now}\n\nReply \"remove topic: N\" to drop one, or \"help\" for every command.\n",
                sub.name
            );
            ("answered", body)
        };
        let detail = if changed {
            st.changes.join("; ")
        } else {
            "answered without changes".to_string()
        };
        let answer = self.answer(a, &sub, &body, true).await?;
        Ok((outcome.into(), detail, who, Some(answer)))
    }

    /// Reverts the last change a reply from `email` made (subscribers file and examples).
    async fn undo(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        current: Option<&Subscriber>,
    ) -> anyhow::Result<(String, String, Option<String>, Option<(String, Vec<u8>)>)> {
        let who = Some(email.to_string());
        let e = email.to_string();
        let Some(last) = self
            .app
            .store
            .call(move |c| inbox::last_changing_reply(c, &e))
            .await?
        else {
            return match current {
                Some(sub) => {
                    let body = format!("Hello {},\n\nThere is nothing to undo.\n", sub.name);
                    let answer = self.answer(a, sub, &body, true).await?;
                    Ok((
                        "answered".into(),
                        "nothing to undo".into(),
                        who,
                        Some(answer),
                    ))
                }
                None => Ok((
                    "rejected".into(),
                    format!("{email} is not a subscriber and has nothing to undo"),
                    who,
                    None,
                )),
            };
        };
        let (e, l) = (email.to_string(), last.clone());
        let rows = self
            .app
            .store
            .call(move |c| crate::store::audit::history(c, &e))
            .await?;
        let row = rows
            .into_iter()
            .rev()
            .find(|r| r.actor == "reply" && r.detail.as_deref() == Some(last.as_str()));
        let actor = Actor::Reply(a.message_id.clone());
        let mut what = Vec::new();
        if let Some(row) = row {
            let change = match (&row.before, &row.after) {
                (Some(before), None) => Some(Change::Add(fields_of(before, None))),
                (Some(before), Some(after)) => {
                    let sets: Vec<(String, FieldValue)> = fields_of(before, Some(after))
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    (!sets.is_empty()).then(|| Change::SetMany {
                        action: "undo".into(),
                        sets,
                    })
                }
                _ => None,
            };
            if let Some(change) = change {
                self.subs.apply(&self.app.store, email, change, &actor)?;
                what.push(format!(
                    "reverted: {}",
                    row.action.trim_start_matches("reply: ")
                ));
            }
        }
        let (e, l2) = (email.to_string(), l.clone());
        let removed = self
            .app
            .store
            .call(move |c| inbox::remove_examples_of(c, &e, &l2))
            .await?;
        if removed > 0 {
            what.push(format!("forgot {removed} example paper(s)"));
        }
        self.app
            .store
            .call(move |c| inbox::mark_undone(c, &l))
            .await?;
        let sub = self.current(email)?.context("the subscriber after undo")?;
        let lines: Vec<String> = what.iter().map(|w| format!("  - {w}")).collect();
        let body = fill(
            &self.templates.confirmation,
            &[
                ("name", &sub.name),
                ("changes", &lines.join("\n")),
                ("topics", &numbered(&topic_lines(&sub.topics))),
            ],
        );
        let answer = self.answer(a, &sub, &body, true).await?;
        Ok((
            "applied".into(),
            format!("undo: {}", what.join("; ")),
            who,
            Some(answer),
        ))
    }

    /// The paper numbered `n` in the digest replied to (or the latest one sent).
    async fn paper_in_digest(
        &self,
        email: &SubscriberEmail,
        day: Option<NaiveDate>,
        n: usize,
    ) -> anyhow::Result<Result<(String, String), String>> {
        let e = email.to_string();
        let d = self
            .app
            .store
            .call(move |c| match day {
                Some(day) => deliveries::get(c, &e, day),
                None => deliveries::latest_sent(c, &e),
            })
            .await?;
        let Some(d) = d else {
            return Ok(Err("there is no digest to take the number from".into()));
        };
        let Some(id) = d.paper_ids.get(n.wrapping_sub(1)).cloned() else {
            return Ok(Err(format!(
                "the digest of {} has {} papers",
                d.day,
                d.paper_ids.len()
            )));
        };
        let day = d.day;
        let title = self
            .app
            .store
            .call(move |c| crate::store::papers::announced(c, day))
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(|p| p.title)
            .unwrap_or_else(|| id.to_string());
        Ok(Ok((id.to_string(), title)))
    }

    /// Free text → commands, by the model (structured output). `None` without a model.
    async fn interpret(&self, sub: &Subscriber, text: &str) -> anyhow::Result<Option<Vec<String>>> {
        let Scorer::Llm(llm) = &self.app.scorer else {
            return Ok(None);
        };
        let prompt = crate::scoring::prompt::reply_prompt(
            &self.app.config.resolve(&self.app.config.prompts),
        );
        match llm
            .client
            .commands(
                &prompt,
                &format!("Current topics:\n{}\n\nMessage:\n{text}", sub.topics),
            )
            .await
        {
            Ok((lines, usage)) => {
                if let Some(u) = usage {
                    let row = crate::store::spend::SpendRow {
                        subscriber: Some(sub.email.to_string()),
                        ..crate::scoring::spend_of(
                            llm.client.model(),
                            u,
                            llm.prices.get(llm.client.model()),
                            "reply",
                        )
                    };
                    self.app
                        .store
                        .call(move |c| crate::store::spend::record(c, &row))
                        .await?;
                }
                Ok(Some(lines))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the model could not read a free-text reply; answering with help");
                Ok(None)
            }
        }
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
        let bytes = build_answer(&self.app.from, sub, &subject, in_reply_to, &addrs, body)?;
        Ok((sub.email.to_string(), bytes))
    }

    pub async fn reply_addresses(&self, email: &SubscriberEmail) -> anyhow::Result<ReplyAddresses> {
        let e = email.to_string();
        let token = self
            .app
            .store
            .call(move |c| inbox::tokens_for(c, &e))
            .await?;
        Ok(ReplyAddresses::new(&self.reply_base, &token))
    }
}

/// The body a person wrote in: the text part, or an HTML-only message as lines.
pub fn body_text(msg: &mail_parser::Message) -> String {
    match msg.text_part(0).map(|p| &p.body) {
        Some(PartType::Text(t)) => t.to_string(),
        Some(PartType::Html(h)) => reply::html_to_text(h),
        _ => msg
            .body_html(0)
            .map(|h| reply::html_to_text(&h))
            .unwrap_or_default(),
    }
}

/// The plain text of a message paperboy sent (its stored bytes).
fn sent_text(raw: &[u8]) -> String {
    MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.to_string()))
        .unwrap_or_default()
}

/// Addresses (`a@b`) in a header value, whatever the display names around them.
fn addresses_in(value: &str) -> Vec<String> {
    value
        .split(|c: char| {
            c == ',' || c == ';' || c == '<' || c == '>' || c.is_whitespace() || c == '"'
        })
        .filter(|p| p.contains('@') && !p.starts_with('@'))
        .map(|p| p.trim_matches(['.', ':']).to_lowercase())
        .collect()
}

fn ids_of(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Auto-replies, vacation responders and bounces: never commands.
fn automatic(
    headers: &[(String, String)],
    from: Option<&str>,
    subject: &str,
    msg: &mail_parser::Message,
) -> Option<String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_lowercase())
    };
    if let Some(v) = get("auto-submitted") {
        if v != "no" {
            return Some(format!("an automatic message (Auto-Submitted: {v})"));
        }
    }
    for name in ["x-autoreply", "x-autorespond", "x-auto-response-suppress"] {
        if get(name).is_some() && name != "x-auto-response-suppress" {
            return Some(format!("an automatic reply ({name})"));
        }
    }
    if let Some(p) = get("precedence") {
        if ["bulk", "junk", "list", "auto_reply"].contains(&p.as_str()) {
            return Some(format!("an automatic message (Precedence: {p})"));
        }
    }
    let s = subject.to_lowercase();
    if [
        "out of office",
        "automatic reply",
        "auto:",
        "autoreply",
        "vacation",
    ]
    .iter()
    .any(|p| s.starts_with(p))
    {
        return Some(format!("an out-of-office reply (\"{subject}\")"));
    }
    if let Some(f) = from {
        let local = f.split('@').next().unwrap_or("");
        if ["mailer-daemon", "postmaster"].contains(&local) {
            return Some(format!("a bounce from {f}"));
        }
    }
    if msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery report (bounce)".into());
    }
    if get("return-path").as_deref() == Some("<>") {
        return Some("a bounce (empty Return-Path)".into());
    }
    None
}

use mail_parser::MimeHeaders as _;

/// The subscriber's topics as a list: one per non-empty line, bullets and numbers removed.
pub fn topic_lines(topics: &str) -> Vec<String> {
    topics
        .lines()
        .map(|l| {
            let t = l.trim();
            let t = t.trim_start_matches(['-', '*', '•']).trim_start();
            let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && t[digits..].starts_with(['.', ')']) {
                t[digits + 1..].trim().to_string()
            } else {
                t.to_string()
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn numbered(topics: &[String]) -> String {
    if topics.is_empty() {
        return "  (none)".into();
    }
    topics
        .iter()
        .enumerate()
        .map(|(i, t)| format!("  {}. {t}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The entry's settable fields from an audit JSON, as changes: all of them (`diff_from` None) or
/// only those that differ from `diff_from`.
fn fields_of(
    v: &serde_json::Value,
    diff_from: Option<&serde_json::Value>,
) -> Vec<(&'static str, FieldValue)> {
    use serde_json::Value;
    let mut out = Vec::new();
    for (key, list) in [
        ("name", false),
        ("topics", false),
        ("authors", true),
        ("keywords", true),
        ("categories", true),
        ("min_relevance", false),
        ("min_novelty", false),
        ("max_papers", false),
        ("send_empty", false),
        ("paused", false),
    ] {
        let value = v.get(key).cloned().unwrap_or(Value::Null);
        if let Some(other) = diff_from {
            if other.get(key).cloned().unwrap_or(Value::Null) == value {
                continue;
            }
        }
        let field = match (&value, list) {
            (Value::Null, _) => FieldValue::Unset,
            (Value::Array(items), true) => FieldValue::List(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            (Value::String(s), _) => FieldValue::Text(s.clone()),
            (Value::Number(n), _) => n.as_i64().map_or(FieldValue::Unset, FieldValue::Int),
            (Value::Bool(b), _) => FieldValue::Bool(*b),
            _ => continue,
        };
        if diff_from.is_none() && matches!(field, FieldValue::Unset) {
            continue;
        }
        out.push((key, field));
    }
    out
}

/// A subscriber's settings being changed by the commands of one reply.
struct State {
    topics: Vec<String>,
    authors: Vec<String>,
    keywords: Vec<String>,
    numbers: BTreeMap<&'static str, i64>,
    paused: Option<bool>,
    changes: Vec<String>,
}

impl State {
    fn of(s: &Subscriber) -> State {
        State {
            topics: topic_lines(&s.topics),
            authors: s.authors.clone(),
            keywords: s.keywords.clone(),
            numbers: BTreeMap::new(),
            paused: None,
            changes: Vec::new(),
        }
    }

    fn apply(&mut self, c: &Command) -> Result<(), String> {
        let same = |a: &str, b: &str| {
            crate::tex::to_unicode(a).to_lowercase() == crate::tex::to_unicode(b).to_lowercase()
        };
        match c {
            Command::AddTopic(t) => {
                if self.topics.iter().any(|x| same(x, t)) {
                    return Err("you already have this topic".into());
                }
                self.topics.push(t.clone());
                self.changes.push(format!("added topic: {t}"));
            }
            Command::RemoveTopic(TopicRef::Number(n)) => {
                if *n == 0 || *n > self.topics.len() {
                    return Err(format!(
                        "there is no topic {n}; you have {}",
                        self.topics.len()
                    ));
                }
                let t = self.topics.remove(n - 1);
                self.changes.push(format!("removed topic: {t}"));
            }
            Command::RemoveTopic(TopicRef::Text(t)) => {
                let lower = t.to_lowercase();
                let exact = self.topics.iter().position(|x| same(x, t));
                let partial: Vec<usize> = self
                    .topics
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.to_lowercase().contains(&lower))
                    .map(|(i, _)| i)
                    .collect();
                let i = match (exact, partial.as_slice()) {
                    (Some(i), _) => i,
                    (None, [i]) => *i,
                    (None, []) => {
                        return Err(
                            "none of your topics matches it; reply \"topics\" to see them".into(),
                        )
                    }
                    (None, _) => {
                        return Err("several topics match it; give its number instead".into())
                    }
                };
                let t = self.topics.remove(i);
                self.changes.push(format!("removed topic: {t}"));
            }
            Command::SetTopics(list) => {
                self.topics = list.clone();
                self.changes
                    .push(format!("topics replaced ({} topics)", list.len()));
            }
            Command::Follow(a) => {
                if self.authors.iter().any(|x| same(x, a)) {
                    return Err("you already follow them".into());
                }
                self.authors.push(a.clone());
                self.changes.push(format!("following {a}"));
            }
            Command::Unfollow(a) => {
                let before = self.authors.len();
                self.authors.retain(|x| !same(x, a));
                if self.authors.len() == before {
                    return Err("you do not follow them".into());
                }
                self.changes.push(format!("no longer following {a}"));
            }
            Command::AddKeyword(k) => {
                if self.keywords.iter().any(|x| same(x, k)) {
                    return Err("you already have this keyword".into());
                }
                self.keywords.push(k.clone());
                self.changes.push(format!("added keyword: {k}"));
            }
            Command::RemoveKeyword(k) => {
                let before = self.keywords.len();
                self.keywords.retain(|x| !same(x, k));
                if self.keywords.len() == before {
                    return Err("you do not have this keyword".into());
                }
                self.changes.push(format!("removed keyword: {k}"));
            }
            Command::Relevance(n) | Command::Novelty(n) => {
                if !(1..=10).contains(n) {
                    return Err("use a whole number from 1 to 10".into());
                }
                let key = if matches!(c, Command::Relevance(_)) {
                    "min_relevance"
                } else {
                    "min_novelty"
                };
                self.numbers.insert(key, *n);
                self.changes.push(format!(
                    "{} bar now {n}",
                    if key == "min_relevance" {
                        "relevance"
                    } else {
                        "novelty"
                    }
                ));
            }
            Command::Max(n) => {
                if !(1..=1000).contains(n) {
                    return Err("use a number from 1 to 1000".into());
                }
                self.numbers.insert("max_papers", *n);
                self.changes.push(format!("at most {n} papers a day"));
            }
            Command::Pause => {
                self.paused = Some(true);
                self.changes
                    .push("paused: no digests until you reply \"resume\"".into());
            }
            Command::Resume => {
                self.paused = Some(false);
                self.changes.push("resumed".into());
            }
            Command::ListTopics
            | Command::Help
            | Command::Undo
            | Command::Unsubscribe
            | Command::MoreLike(_)
            | Command::LessLike(_) => {}
        }
        Ok(())
    }

    /// The file changes that get from `s` to this state.
    fn sets(&self, s: &Subscriber) -> Vec<(String, FieldValue)> {
        let mut sets = Vec::new();
        if self.topics != topic_lines(&s.topics) {
            sets.push((
                "topics".to_string(),
                FieldValue::Text(self.topics.join("\n")),
            ));
        }
        if self.authors != s.authors {
            sets.push((
                "authors".to_string(),
                FieldValue::List(self.authors.clone()),
            ));
        }
        if self.keywords != s.keywords {
            sets.push((
                "keywords".to_string(),
                FieldValue::List(self.keywords.clone()),
            ));
        }
        for (k, v) in &self.numbers {
            sets.push((k.to_string(), FieldValue::Int(*v)));
        }
        match self.paused {
            Some(true) if !s.paused => sets.push(("paused".into(), FieldValue::Bool(true))),
            Some(false) if s.paused => sets.push(("paused".into(), FieldValue::Unset)),
            _ => {}
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_topics() {
        assert_eq!(
            addresses_in("\"Ada, L.\" <Ada@Lab.org>, digest+abc@lab.org"),
            vec!["ada@lab.org", "digest+abc@lab.org"]
        );
        assert_eq!(
            topic_lines("- MoE\n\n2. KV cache\n* sparse attention \n"),
            vec!["MoE", "KV cache", "sparse attention"]
        );
    }
}
