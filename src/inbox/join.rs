//! Subscribing by mail, double opt-in (`[subscribe] open`): "subscribe" to the digest address
//! gets a confirmation at the requesting address, whose reply address carries a one-time token;
//! answering it from that same address adds the reader (or, with `approve`, queues them for
//! the admin). A request in someone else's name only mails them a confirmation they can ignore.

use lettre::Address;
use serde::{Deserialize, Serialize};

use super::{Analysis, Handling, Inbox, Outcome};
use crate::domain::SubscriberEmail;
use crate::inbox::templates::fill;
use crate::mail::message::build_notice;
use crate::store::audit::Actor;
use crate::store::join::{JoinRequest, JoinStatus};
use crate::subscribers::admin::Change;
use crate::subscribers::edit::FieldValue;

/// What a subscribe request asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    pub name: Option<String>,
    pub topics: Vec<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
}

/// `subscribe` on the first line (then optional `name:`, `topics:`, `follow …`, `language:`
/// lines), or `None` when the text is not a subscribe request.
pub fn subscribe_request(text: &str) -> Option<Wanted> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?.to_lowercase();
    let first = first.trim_end_matches(['.', '!']);
    if !["subscribe", "subscribe me", "join", "sign me up"].contains(&first) {
        return None;
    }
    let mut w = Wanted::default();
    for line in lines.take(20) {
        let lower = line.to_lowercase();
        let after = |prefix: &str| -> Option<String> {
            lower
                .starts_with(prefix)
                .then(|| {
                    line[prefix.len()..]
                        .trim_start_matches([':', ' '])
                        .trim()
                        .to_string()
                })
                .filter(|v| !v.is_empty() && v.chars().count() <= 300)
        };
        if let Some(v) = after("topics").or_else(|| after("topic")) {
            w.topics.push(v);
        } else if let Some(v) = after("follow") {
            w.authors.push(v);
        } else if let Some(v) = after("language").or_else(|| after("lang")) {
            w.language = crate::domain::Language::parse(&v)
                .ok()
                .map(|l| l.tag().to_string());
        } else if let Some(v) = after("name") {
            if !v.chars().any(char::is_control) {
                w.name = Some(v);
            }
        }
    }
    Some(w)
}

impl Wanted {
    /// What the confirmation says was asked for: a short summary, never the stranger's free
    /// text (a genuine mail from the lab must not carry their phishing text): the name with
    /// only the characters names are made of, how many topic lines and words, how many
    /// authors, the language.
    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(n) = self
            .name
            .as_deref()
            .map(plain_name)
            .filter(|n| !n.is_empty())
        {
            s.push_str(&format!("  name: {n}\n"));
        }
        if !self.topics.is_empty() {
            let words: usize = self
                .topics
                .iter()
                .map(|t| t.split_whitespace().count())
                .sum();
            s.push_str(&format!(
                "  topics: {} line{} ({words} words; you will see them in your first digest)\n",
                self.topics.len(),
                if self.topics.len() == 1 { "" } else { "s" }
            ));
        }
        if !self.authors.is_empty() {
            s.push_str(&format!(
                "  follow: {} author{}\n",
                self.authors.len(),
                if self.authors.len() == 1 { "" } else { "s" }
            ));
        }
        if let Some(l) = &self.language {
            s.push_str(&format!("  language: {l}\n"));
        }
        if s.is_empty() {
            s.push_str("  (the default topics; you can change them by reply later)\n");
        }
        s
    }
}

/// A name as names are written: the name's characters up to the first that is not one
/// (letters, marks, spaces, `.`, `-`, `'`), words that look like domains left out (a `.` is
/// only an initial's), at most 60 characters.
fn plain_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .take_while(|c| {
            c.is_alphabetic() || matches!(c, ' ' | '.' | '-' | '\'') || unicode_mark(*c)
        })
        .take(60)
        .collect();
    kept.split_whitespace()
        .filter(|w| !w.trim_end_matches('.').contains('.'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unicode_mark(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

/// The address as the limits count it: lowercased, its `+tag` removed (victim+1@x and
/// victim+2@x are one inbox), and its domain.
fn limit_key(email: &SubscriberEmail) -> (String, String) {
    let lower = email.as_str().to_lowercase();
    let (local, domain) = lower.rsplit_once('@').unwrap_or((&lower, ""));
    let base = local.split('+').next().unwrap_or(local);
    (format!("{base}@{domain}"), domain.to_string())
}

impl Inbox<'_> {
    /// A short note about someone's subscription (already subscribed, awaiting approval).
    fn subscription_note(&self, to: &Address, text: &str) -> anyhow::Result<Vec<u8>> {
        let body = format!("Hello,\n\n{text}\n");
        build_notice(
            self.ctx.from,
            to,
            "Your paper digest subscription",
            None,
            &body,
        )
    }

    /// Why no more subscribing mail may go to `email` today, if it may not: per address
    /// (its +tag removed), per domain and in all, every kind of mail counted.
    async fn over_mail_limit(&self, email: &SubscriberEmail) -> anyhow::Result<Option<String>> {
        let cfg = &self.ctx.config.subscribe;
        let (address, domain) = limit_key(email);
        let since = self.ctx.clock.now() - chrono::Duration::days(1);
        let (mine, theirs, all) = self
            .ctx
            .store
            .subscribe_mail_since(&address, &domain, since)
            .await?;
        let over = if mine >= i64::from(cfg.per_address_per_day) {
            format!("{address} was sent {mine} subscribing mails today")
        } else if theirs >= i64::from(cfg.per_domain_per_day) {
            format!("{domain} was sent {theirs} subscribing mails today")
        } else if all >= i64::from(cfg.per_day) {
            format!("{all} subscribing mails were sent today")
        } else {
            return Ok(None);
        };
        tracing::warn!(address = %email, mine, theirs, all, "subscribing mail over the daily limit; no mail sent");
        Ok(Some(format!("{over} (the daily limit); no mail sent")))
    }

    async fn count_mail(&self, email: &SubscriberEmail, kind: &'static str) -> anyhow::Result<()> {
        let (address, domain) = limit_key(email);
        self.ctx
            .store
            .note_subscribe_mail(&address, &domain, kind, self.ctx.clock.now())
            .await
    }

    /// "subscribe" from `email` (the message's From): a confirmation to that address.
    pub(super) async fn request_subscription(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
    ) -> anyhow::Result<Handling> {
        let cfg = &self.ctx.config.subscribe;
        let who = Some(email.to_string());
        let (local, domain) = email.as_str().rsplit_once('@').unwrap_or(("", ""));
        // `x%evil.com@lab.org` and `evil.com!x@lab.org` pass a domain check yet route, at MTAs
        // that still honour them, to another host: never mailed.
        if local.contains(['%', '!', '@', ':']) {
            return Ok((
                Outcome::Rejected,
                "an address with % or ! (mail routing) cannot subscribe".into(),
                who,
                None,
            ));
        }
        if !cfg.allowed_domains.is_empty()
            && !cfg
                .allowed_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        {
            return Ok((
                Outcome::Rejected,
                format!(
                    "subscribing by mail is limited to {}",
                    cfg.allowed_domains.join(", ")
                ),
                who,
                None,
            ));
        }
        let to: Address = email.as_str().parse()?;
        if let Some(over) = self.over_mail_limit(email).await? {
            return Ok((Outcome::Ignored, over, who, None));
        }
        let now = self.ctx.clock.now();
        if self.current(email)?.is_some() {
            let note = self.subscription_note(&to, "This address already receives the lab's paper digest; nothing was changed.\nReply \"help\" to any digest for the commands.")?;
            self.count_mail(email, "note").await?;
            return Ok((
                Outcome::Answered,
                "already subscribed".into(),
                who,
                Some((email.to_string(), note)),
            ));
        }
        let wanted = subscribe_request(&a.text).unwrap_or_default();
        let fields = serde_json::to_string(&wanted)?;
        let hours = cfg.valid_hours;
        let token = self
            .ctx
            .store
            .create_join_request(email, &fields, now, i64::from(hours))
            .await?;
        let reply = Address::new(
            format!("{}+join-{token}", self.reply_base.user()),
            self.reply_base.domain(),
        )?;
        let body = fill(
            &self.templates.confirm_subscribe,
            &[
                ("email", email.as_str()),
                ("hours", &hours.to_string()),
                ("fields", wanted.describe().trim_end()),
            ],
        );
        let mail = build_notice(
            self.ctx.from,
            &to,
            "Confirm your arXiv digest subscription",
            Some(&reply),
            &body,
        )?;
        self.count_mail(email, "confirmation").await?;
        Ok((
            Outcome::Answered,
            "subscribe request: confirmation sent".into(),
            who,
            Some((email.to_string(), mail)),
        ))
    }

    /// A reply to a confirmation (`digest+join-TOKEN@…`).
    pub(super) async fn confirm_subscription(
        &self,
        a: &Analysis,
        token: &str,
    ) -> anyhow::Result<Handling> {
        let Some(req) = self.ctx.store.join_request(token).await? else {
            return Ok((
                Outcome::Rejected,
                "an unknown confirmation token".into(),
                None,
                None,
            ));
        };
        let who = Some(req.email.clone());
        if a.from.as_deref() != Some(req.email.as_str()) {
            return Ok((
                Outcome::Rejected,
                format!(
                    "a confirmation for {} sent from {}",
                    req.email,
                    a.from.as_deref().unwrap_or("an unknown address")
                ),
                who,
                None,
            ));
        }
        let email = SubscriberEmail::parse(&req.email)?;
        let subscribed = self.current(&email)?.is_some();
        if subscribed || req.status != JoinStatus::Pending {
            if subscribed {
                if req.status == JoinStatus::Pending {
                    self.ctx
                        .store
                        .set_join_status(&req.token, JoinStatus::Added)
                        .await?;
                }
                if let Some(over) = self.over_mail_limit(&email).await? {
                    return Ok((Outcome::Ignored, over, who, None));
                }
                let to: Address = req.email.parse()?;
                let note = self.subscription_note(&to, "This address already receives the lab's paper digest; nothing was changed.\nReply \"help\" to any digest for the commands.")?;
                self.count_mail(&email, "note").await?;
                return Ok((
                    Outcome::Answered,
                    "already subscribed".into(),
                    who,
                    Some((req.email.clone(), note)),
                ));
            }
            return Ok((
                Outcome::Ignored,
                format!("confirmation already {}", req.status),
                who,
                None,
            ));
        }
        let expired = chrono::DateTime::parse_from_rfc3339(&req.expires_at)
            .map(|e| e < self.ctx.clock.now())
            .unwrap_or(true);
        if expired {
            self.ctx
                .store
                .set_join_status(&req.token, JoinStatus::Expired)
                .await?;
            return Ok((
                Outcome::Rejected,
                "the confirmation expired".into(),
                who,
                None,
            ));
        }
        if self.ctx.config.subscribe.approve {
            self.ctx
                .store
                .set_join_status(&req.token, JoinStatus::Confirmed)
                .await?;
            let to: Address = req.email.parse()?;
            self.count_mail(&email, "note").await?;
            let note = self.subscription_note(&to, "Thank you: your request is confirmed. The person who runs paperboy for the lab will approve it, and the digest starts then.")?;
            return Ok((
                Outcome::Answered,
                "confirmed; awaiting the admin's approval".into(),
                who,
                Some((req.email.clone(), note)),
            ));
        }
        let welcome = self
            .admit(&req, &Actor::Reply(a.message_id.clone()))
            .await?;
        // Counted, never refused: it answers the address's own confirmation.
        self.count_mail(&email, "welcome").await?;
        Ok((
            Outcome::Applied,
            "self-subscribed".into(),
            who,
            Some((req.email.clone(), welcome)),
        ))
    }

    /// Adds the reader a confirmed request asked for (through the subscribers file's edit path,
    /// audited "self-subscribed") and returns the welcome mail.
    pub async fn admit(&self, req: &JoinRequest, actor: &Actor) -> anyhow::Result<Vec<u8>> {
        let email = crate::domain::SubscriberEmail::parse(&req.email)?;
        let wanted: Wanted = serde_json::from_str(&req.fields).unwrap_or_default();
        let topics = if wanted.topics.is_empty() {
            self.ctx.config.subscribe.default_topics.clone()
        } else {
            wanted.topics.join("\n")
        };
        let mut fields: Vec<(&'static str, FieldValue)> = Vec::new();
        if let Some(n) = &wanted.name {
            fields.push(("name", FieldValue::Text(n.clone())));
        }
        fields.push(("topics", FieldValue::Text(topics)));
        if !wanted.authors.is_empty() {
            fields.push(("authors", FieldValue::List(wanted.authors.clone())));
        }
        if let Some(l) = &wanted.language {
            fields.push(("language", FieldValue::Text(l.clone())));
        }
        self.subs
            .apply(self.ctx.store, &email, Change::SelfSubscribe(fields), actor)?;
        self.ctx
            .store
            .set_join_status(&req.token, JoinStatus::Added)
            .await?;
        let sub = self
            .current(&email)?
            .ok_or_else(|| anyhow::anyhow!("{email} was added but cannot be read back"))?;
        let archive =
            match crate::archive::index_url(self.ctx.config, self.ctx.store, email.as_str()).await?
            {
                Some(url) => format!("\nYour digests on the web: {url}\n"),
                None => String::new(),
            };
        let body = fill(
            &self.templates.welcome,
            &[
                ("name", &sub.name),
                ("topics", sub.topics.trim()),
                ("archive", &archive),
            ],
        );
        let addrs = self.reply_addresses(&email).await?;
        crate::mail::message::build_answer(
            self.ctx.from,
            &sub,
            "Welcome to the lab's arXiv digest",
            None,
            &addrs,
            &body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_requests_and_what_they_ask_for() {
        let w = subscribe_request(
            "Subscribe\nname: Nina\ntopics: sparse attention\nfollow Yann LeCun\nlanguage: de\n",
        )
        .unwrap();
        assert_eq!(w.name.as_deref(), Some("Nina"));
        assert_eq!(w.topics, vec!["sparse attention"]);
        assert_eq!(w.authors, vec!["Yann LeCun"]);
        assert_eq!(w.language.as_deref(), Some("de"));
        assert!(subscribe_request("add topic: x").is_none());
        assert!(subscribe_request("subscribe.").is_some());
    }
}
