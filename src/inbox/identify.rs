//! Reading one message: who sent it, whether they may change anything (a reader's own token or
//! a reply to their digest, from their own address), and what they typed — without the quote,
//! without paperboy's own lines, bounded in lines and commands.

use anyhow::Context as _;
use mail_parser::{Message, MessageParser};
use sha2::{Digest as _, Sha256};

use super::commands::{self, Parsed};
use super::message::{self, addresses_in, automatic, ids_of, sent_text};
use super::{body_text, join, reply, Analysis, Auth, Inbox, MAX_COMMANDS, MAX_LINES, MAX_SIZE};
use crate::domain::SubscriberEmail;
use crate::support::text::hex;

/// The tokens in the addresses a message was sent to, by kind.
#[derive(Default)]
struct Tokens {
    reply: Vec<String>,
    unsubscribe: Vec<String>,
    join: Vec<String>,
    /// One-click addresses: the digest's day and the code.
    click: Vec<(chrono::NaiveDate, String)>,
}

/// Whose a reply is, as its token and the digest it answers say.
struct Claim {
    email: String,
    by_token: bool,
    /// (subscriber, day) of the digest replied to.
    by_digest: Option<(String, String)>,
}

impl Inbox<'_> {
    /// Reads one message: who sent it, may they change anything, what did they write.
    pub async fn analyse(&self, raw: &[u8]) -> anyhow::Result<Analysis> {
        let mut a = Analysis {
            message_id: format!("<{}@paperboy.invalid>", &hex(&Sha256::digest(raw))[..32]),
            from: None,
            subject: String::new(),
            auth: Auth::Ignored(String::new()),
            text: String::new(),
            parsed: Parsed::default(),
            library: None,
            fingerprint: None,
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
        // Message-IDs compared as one: `<ABC@x>` again is `<abc@x>` again.
        if let Some(id) = msg.message_id() {
            a.message_id = format!("<{}>", id.trim().to_lowercase());
        }
        a.from = msg
            .from()
            .and_then(|f| f.first())
            .and_then(|f| f.address())
            .map(|s| s.to_lowercase());
        a.subject = crate::support::text::clean(msg.subject().unwrap_or_default()).into_owned();
        a.fingerprint = Some(fingerprint(&a, &msg));
        let headers: Vec<(String, String)> = msg
            .headers_raw()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if let Some(why) = automatic(&headers, a.from.as_deref(), &a.subject, &msg) {
            a.auth = Auth::Ignored(why);
            return Ok(a);
        }
        let tokens = self.tokens_in(&headers);
        if let Some(claim) = self.identify(&mut a, &msg, tokens).await? {
            self.authenticate(&mut a, &msg, claim).await?;
        }
        Ok(a)
    }

    /// The tokens in the To, Cc and delivery headers that are our own reply address.
    fn tokens_in(&self, headers: &[(String, String)]) -> Tokens {
        let mut tokens = Tokens::default();
        for name in ["to", "cc", "delivered-to", "x-original-to", "envelope-to"] {
            for (_, value) in headers.iter().filter(|(k, _)| k == name) {
                for addr in addresses_in(value) {
                    if let Some(tag) = self.tag_of(&addr) {
                        if let Some(t) = tag.strip_prefix("unsub-") {
                            tokens.unsubscribe.push(t.to_string());
                        } else if let Some(t) = tag.strip_prefix("join-") {
                            tokens.join.push(t.to_string());
                        } else if tag.starts_with("click-") {
                            match crate::domain::reply::parse_click(&tag) {
                                Some(c) => tokens.click.push(c),
                                // Not ours to read: an unknown token, as below.
                                None => tokens.reply.push(tag),
                            }
                        } else {
                            tokens.reply.push(tag);
                        }
                    }
                }
            }
        }
        tokens
    }

    /// Decides what the message is by its tokens and references. Sets `a.auth` and returns
    /// `None` when that settles it (a confirmation, an unsubscribe, a subscribe request, a
    /// rejection); otherwise the reader the reply claims to come from.
    async fn identify(
        &self,
        a: &mut Analysis,
        msg: &Message<'_>,
        tokens: Tokens,
    ) -> anyhow::Result<Option<Claim>> {
        let store = &self.ctx.store;
        if let Some(token) = tokens.join.first().cloned() {
            a.text = reply::typed_text(&body_text(msg));
            a.auth = Auth::Join { token };
            return Ok(None);
        }
        if let Some(t) = tokens.unsubscribe.first().cloned() {
            a.auth = match store.unsubscribe_token_holder(&t).await? {
                // The reader's own word only when the receiving server vouches for the From
                // (where it is asked to); otherwise the reader is asked to confirm.
                Some(s) => Auth::Unsubscribe {
                    by_owner: a.from.as_deref() == Some(s.as_str())
                        && self.vouched_for(msg, &s).is_ok(),
                    email: SubscriberEmail::parse(&s).context("stored subscriber")?,
                },
                None => Auth::Rejected("an unsubscribe address with an unknown token".into()),
            };
            return Ok(None);
        }
        let mut by_token = None;
        if let Some((day, code)) = tokens.click.first().cloned() {
            let Some(s) = store.click_holder(day, &code).await? else {
                a.auth = Auth::Rejected("a one-click address with an unknown code".into());
                return Ok(None);
            };
            // Its age counts from when the digest was made (a day caught up late is as new).
            let made = store
                .delivery_made_at(&s, day)
                .await?
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
            let age = made.map(|t| (self.ctx.clock.now().fixed_offset() - t).num_days());
            match age {
                Some(age) if age <= crate::domain::reply::CLICK_DAYS => {}
                _ => {
                    a.auth = Auth::Rejected(match age {
                        Some(age) => format!(
                            "a one-click link from the digest of {day}, sent {age} days ago: links work for {} days",
                            crate::domain::reply::CLICK_DAYS
                        ),
                        None => format!("a one-click link for the digest of {day}, which was never made"),
                    });
                    return Ok(None);
                }
            }
            by_token = Some(s);
        } else if let Some(t) = tokens.reply.first().cloned() {
            match store.reply_token_holder(&t).await? {
                Some(s) => by_token = Some(s),
                None => {
                    a.auth = Auth::Rejected("the reply address carries an unknown token".into());
                    return Ok(None);
                }
            }
        }
        let by_digest = self.digest_replied_to(msg).await?;
        let email = match (&by_token, &by_digest) {
            (Some(t), Some((d, _))) if t != d => {
                a.auth = Auth::Rejected(format!(
                    "the token belongs to {t} but the digest replied to was {d}'s"
                ));
                return Ok(None);
            }
            (Some(t), _) => t.clone(),
            (None, Some((d, _))) => d.clone(),
            (None, None) => {
                a.auth = self.stranger(a, msg);
                return Ok(None);
            }
        };
        Ok(Some(Claim {
            email,
            by_token: by_token.is_some(),
            by_digest,
        }))
    }

    /// The digest paperboy sent that the message answers (its In-Reply-To and References,
    /// newest first): (subscriber, day).
    async fn digest_replied_to(
        &self,
        msg: &Message<'_>,
    ) -> anyhow::Result<Option<(String, String)>> {
        let mut refs: Vec<String> = ids_of(msg.in_reply_to());
        refs.extend(ids_of(msg.references()));
        for r in refs.iter().rev() {
            let id = format!("<{r}>");
            if let Some(found) = self.ctx.store.digest_by_message_id(&id).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// A message with neither token nor digest: a stranger's "subscribe" (when subscribing by
    /// mail is open), or nothing paperboy acts on.
    fn stranger(&self, a: &mut Analysis, msg: &Message<'_>) -> Auth {
        let typed = reply::typed_text(&body_text(msg));
        let from = a
            .from
            .as_deref()
            .and_then(|f| SubscriberEmail::parse(f).ok());
        if let (true, Some(email), Some(_)) = (
            self.ctx.config.subscribe.open,
            from,
            join::subscribe_request(&typed),
        ) {
            a.text = typed;
            return Auth::Subscribe { email };
        }
        Auth::Rejected("no reply token and not a reply to a digest paperboy sent".into())
    }

    /// A reply that claims to be `claim`'s: accepted only from the reader's own address, then
    /// read for commands.
    async fn authenticate(
        &self,
        a: &mut Analysis,
        msg: &Message<'_>,
        claim: Claim,
    ) -> anyhow::Result<()> {
        let claimed = claim.email;
        if a.from.as_deref() != Some(claimed.as_str()) {
            a.auth = Auth::Rejected(format!(
                "sent from {} but the token or digest belongs to {claimed}",
                a.from.as_deref().unwrap_or("an unknown sender")
            ));
            return Ok(());
        }
        let vouched = match self.vouched_for(msg, &claimed) {
            Ok(v) => v,
            Err(why) => {
                a.auth = Auth::Rejected(why);
                return Ok(());
            }
        };
        let mut how = match (claim.by_token, &claim.by_digest) {
            (true, Some((_, day))) => format!("reply token, and a reply to the digest of {day}"),
            (true, None) => "reply token".to_string(),
            (false, Some((_, day))) => format!("a reply to the digest of {day}"),
            (false, None) => "reply token".to_string(),
        };
        if let Some(v) = vouched {
            how.push_str(&format!("; {v}"));
        }
        let day = claim.by_digest.as_ref().and_then(|(_, d)| d.parse().ok());
        let email = SubscriberEmail::parse(&claimed).context("stored subscriber")?;
        a.auth = Auth::Subscriber {
            email: email.clone(),
            how,
            digest_day: day,
        };
        a.library = message::bib_attachment(msg);
        self.read_commands(a, msg, &email, day).await
    }

    /// Whether the receiving server vouches for a message from `claimed` (`[imap]
    /// authserv_id`): `Ok(None)` when it is not asked, `Ok(Some(what it found))` when it does,
    /// `Err(why not)` — a forged From, or a message that did not come through it.
    fn vouched_for(&self, msg: &Message<'_>, claimed: &str) -> Result<Option<String>, String> {
        let Some(server) = self
            .ctx
            .config
            .imap
            .as_ref()
            .and_then(|i| i.authserv_id.as_deref())
        else {
            return Ok(None);
        };
        let domain = claimed.rsplit_once('@').map_or("", |(_, d)| d);
        let headers: Vec<(String, String)> = msg
            .headers_raw()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        match super::authres::vouched(&headers, server, domain) {
            super::authres::Vouched::Yes(what) => Ok(Some(format!("{what} by {server}"))),
            super::authres::Vouched::No(found) => Err(format!(
                "{server} found nothing tying this message to {domain} ({found}): its From ({claimed}) may be forged"
            )),
            super::authres::Vouched::Absent => Err(format!(
                "no Authentication-Results from {server}: the message did not come through it, so its From ({claimed}) cannot be trusted"
            )),
        }
    }

    /// What the reader typed, without the quote and paperboy's own lines (the digest replied
    /// to, the help mail), read for commands: at most MAX_LINES lines, MAX_COMMANDS commands.
    async fn read_commands(
        &self,
        a: &mut Analysis,
        msg: &Message<'_>,
        claimed: &SubscriberEmail,
        day: Option<chrono::NaiveDate>,
    ) -> anyhow::Result<()> {
        let typed = reply::typed_text(&body_text(msg));
        let digest = self.ctx.store.delivery_or_latest(claimed, day).await?;
        let digest_text = digest.map(|d| sent_text(&d.message)).unwrap_or_default();
        let known = reply::known_lines(&[
            &digest_text,
            &self.templates.help,
            &self.templates.confirmation,
        ]);
        a.text = reply::without_known(&typed, &known);
        let lines: Vec<&str> = a.text.lines().collect();
        let read = lines.len().min(MAX_LINES);
        a.parsed = commands::parse(&lines[..read].join("\n"));
        let extra_lines = lines.len() - read;
        if a.parsed.commands.len() > MAX_COMMANDS || extra_lines > 0 {
            let dropped = a.parsed.commands.len().saturating_sub(MAX_COMMANDS);
            a.parsed.commands.truncate(MAX_COMMANDS);
            a.parsed.invalid.push(format!(
                "a reply may hold at most {MAX_COMMANDS} commands in {MAX_LINES} lines; the rest ({dropped} commands, {extra_lines} lines) was not read"
            ));
        }
        Ok(())
    }
}

/// A message's sender, recipients (`To:`), `Date:`, subject and text, hashed (see [`Analysis::fingerprint`]). A
/// reader who sends "pause" again on another day sends another Date.
fn fingerprint(a: &Analysis, msg: &Message<'_>) -> String {
    let date = msg
        .header_raw("Date")
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let to = msg
        .header_raw("To")
        .map(|t| {
            t.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        a.from.as_deref().unwrap_or_default(),
        &to,
        &date,
        &a.subject,
        &body_text(msg),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize())[..32].to_string()
}
