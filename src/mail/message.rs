//! Building the messages paperboy sends, from parts already rendered: digests
//! (`multipart/alternative`, text first), answers and notices (plain text, auto-replied), alerts,
//! and test copies of sent messages. Nothing here sends.

use chrono::NaiveDate;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::domain::{ReplyAddresses, Subscriber};

/// A digest as mail wants it: rendered already (the digest layer renders, this one only builds).
pub struct DigestMail {
    pub to: Mailbox,
    pub subject: String,
    pub day: NaiveDate,
    pub text: String,
    pub html: String,
}

/// Builds the digest email: `multipart/alternative`, plain text first, HTML second, with our own
/// Message-ID (stored, so replies can be matched to it).
pub fn build_digest_message(
    from: &Mailbox,
    digest: &DigestMail,
    message_id: &str,
    test: bool,
    reply: Option<&ReplyAddresses>,
) -> anyhow::Result<Message> {
    let subject = if test {
        format!("[test] {}", digest.subject)
    } else {
        digest.subject.clone()
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .to(digest.to.clone())
        .subject(subject)
        .message_id(Some(message_id.to_string()))
        .date_now()
        .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION")).to_string());
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".into(),
    ));
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Paperboy-Day"),
        digest.day.to_string(),
    ));
    if let Some(r) = reply {
        builder = builder.reply_to(Mailbox::new(from.name.clone(), r.reply_to.clone()));
        // RFC 2369; a message to this address unsubscribes (the token is the authority).
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<mailto:{}?subject=unsubscribe>", r.unsubscribe),
        ));
    }
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(digest.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(digest.html.clone()),
        );
    Ok(builder.multipart(body)?)
}

/// A plain-text mail to the admin (an alert): (recipient, Message-ID, bytes).
pub fn build_alert(
    from: &Mailbox,
    admin: &Address,
    subject: &str,
    body: String,
) -> anyhow::Result<(Address, String, Vec<u8>)> {
    let message_id = new_message_id(from);
    let message = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, admin.clone()))
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .body(body)?
        .formatted();
    Ok((admin.clone(), message_id, message))
}

/// A plain-text answer to a subscriber's reply, in the same thread.
pub fn build_answer(
    from: &Mailbox,
    to: &Subscriber,
    subject: &str,
    in_reply_to: Option<&str>,
    reply: &ReplyAddresses,
    body: &str,
) -> anyhow::Result<Vec<u8>> {
    plain_mail(
        from,
        Mailbox::new(Some(to.name.clone()), to.email.to_address()),
        subject,
        Some(&reply.reply_to),
        in_reply_to,
        body,
    )
}

/// A plain-text mail paperboy writes itself (answers, notices), marked auto-replied.
fn plain_mail(
    from: &Mailbox,
    to: Mailbox,
    subject: &str,
    reply_to: Option<&Address>,
    in_reply_to: Option<&str>,
    body: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(new_message_id(from)))
        .date_now()
        .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION")).to_string())
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
    if let Some(r) = reply_to {
        builder = builder.reply_to(Mailbox::new(from.name.clone(), r.clone()));
    }
    if let Some(id) = in_reply_to {
        builder = builder
            .in_reply_to(id.to_string())
            .references(id.to_string());
    }
    let message = builder.singlepart(
        SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string()),
    )?;
    Ok(message.formatted())
}

/// A plain-text notice to an address that is not (yet) a subscriber: the confirmation of a
/// subscribe request, a note. `reply_to` carries the one-time token when there is one.
pub fn build_notice(
    from: &Mailbox,
    to: &Address,
    subject: &str,
    reply_to: Option<&Address>,
    body: &str,
) -> anyhow::Result<Vec<u8>> {
    plain_mail(
        from,
        Mailbox::new(None, to.clone()),
        subject,
        reply_to,
        None,
        body,
    )
}

/// A fresh Message-ID on the sender's domain: `<uuid@domain>`.
pub fn new_message_id(from: &Mailbox) -> String {
    format!("<{}@{}>", uuid::Uuid::new_v4(), from.email.domain())
}

/// A copy of a sent message marked as a test: `[test] ` before the subject, a new Message-ID and
/// Date, and an `X-Paperboy-Test` header. The body is untouched.
pub fn as_test(raw: &[u8], message_id: &str, date: &str) -> Vec<u8> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len());
    let (head, body) = raw.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push_str("\r\n");
                last.push_str(line);
            }
        } else {
            fields.push(line.to_string());
        }
    }
    let mut out = String::new();
    for f in fields {
        let name = f.split(':').next().unwrap_or("").to_ascii_lowercase();
        let f = match name.as_str() {
            "subject" => format!("Subject: [test] {}", f["subject:".len()..].trim_start()),
            "message-id" => format!("Message-ID: {message_id}"),
            "date" => format!("Date: {date}"),
            _ => f,
        };
        out.push_str(&f);
        out.push_str("\r\n");
    }
    out.push_str("X-Paperboy-Test: yes\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_copy_changes_only_subject_id_and_date() {
        let raw = b"From: a <a@x.org>\r\nSubject: arXiv digest Fri 28 Mar 2025:\r\n 2 papers\r\nMessage-ID: <old@x.org>\r\nDate: Fri, 28 Mar 2025 06:00:00 +0000\r\n\r\nbody\r\n\r\nmore";
        let t = String::from_utf8(as_test(
            raw,
            "<new@x.org>",
            "Sat, 29 Mar 2025 07:00:00 +0000",
        ))
        .unwrap();
        assert!(
            t.contains("Subject: [test] arXiv digest Fri 28 Mar 2025:\r\n 2 papers\r\n"),
            "{t}"
        );
        assert!(t.contains("Message-ID: <new@x.org>\r\n") && !t.contains("old@x.org"));
        assert!(t.contains("Date: Sat, 29 Mar 2025 07:00:00 +0000\r\n"));
        assert!(t.ends_with("X-Paperboy-Test: yes\r\n\r\nbody\r\n\r\nmore"));
    }
}
