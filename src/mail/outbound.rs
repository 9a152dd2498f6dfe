use crate::domain::problem::{Kind, Problem};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{
    Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, Security, Transport};
use crate::digest::{render_html, render_text, Digest};
use crate::domain::ReplyAddresses;

/// Where mail goes: `.eml` files in the outbox, or an SMTP server.
pub enum Mailer {
    File {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        host: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Worth trying again later (connection problems, 4xx); `false` for 5xx rejections.
    pub transient: bool,
    /// What kind of failure, for the run record and the admin's alert.
    pub kind: Kind,
}

impl SendError {
    pub fn problem(&self) -> Problem {
        Problem::new(self.kind, self.message.clone())
    }
}

impl Mailer {
    /// The mailer `config` asks for; with `force_file` (dry runs) always the outbox.
    pub fn from_config(config: &Config, force_file: bool) -> anyhow::Result<Mailer> {
        if force_file || config.mail.transport == Transport::File {
            return Mailer::file(&config.resolve(&config.mail.outbox));
        }
        let smtp = &config.mail.smtp;
        let builder = match smtp.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .with_context(|| format!("[mail.smtp] host `{}`", smtp.host))?,
            Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .with_context(|| format!("[mail.smtp] host `{}`", smtp.host))?,
            Security::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(Tls::None)
            }
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
        if smtp.security == Security::Tls {
            let params = TlsParameters::new(smtp.host.clone())?;
            builder = builder.tls(Tls::Wrapper(params));
        }
        if !smtp.username.is_empty() {
            let password: SecretString = config.smtp_password().ok_or_else(|| {
                anyhow::anyhow!(
                    "[mail.smtp] username is set but the environment variable {} (password_env) is empty",
                    smtp.password_env
                )
            })?;
            builder = builder.credentials(Credentials::new(
                smtp.username.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            host: format!("{}:{}", smtp.host, smtp.port),
        })
    }

    pub fn file(dir: &Path) -> anyhow::Result<Mailer> {
        // Private: the messages carry each reader's reply token.
        crate::support::fs::private_dir(dir)
            .with_context(|| format!("cannot create the outbox {}", dir.display()))?;
        Ok(Mailer::File {
            transport: AsyncFileTransport::new(dir),
            dir: dir.to_path_buf(),
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::File { dir, .. } => format!("outbox {}", dir.display()),
            Mailer::Smtp { host, .. } => format!("SMTP {host}"),
        }
    }

    /// Checks that mail can go out: the SMTP server answers (and accepts the login), or the
    /// outbox is writable.
    pub async fn check(&self) -> Result<String, String> {
        match self {
            Mailer::File { dir, .. } => {
                let probe = dir.join(".paperboy-check");
                std::fs::write(&probe, b"ok").map_err(|e| format!("cannot write to the outbox {}: {e}", dir.display()))?;
                let _ = std::fs::remove_file(probe);
                Ok(format!("outbox {} is writable", dir.display()))
            }
            Mailer::Smtp { transport, host } => match transport.test_connection().await {
                Ok(true) => Ok(format!("SMTP {host} accepted the connection")),
                Ok(false) => Err(format!("SMTP {host} did not answer as a mail server")),
                Err(e) => Err(format!(
                    "SMTP {host}: {e}; check [mail.smtp] host, port, security and username, and the password in the environment variable named by password_env"
                )),
            },
        }
    }

    /// Sends the exact bytes `message` to `to`. Returns where it went (a file path or the server).
    #[tracing::instrument(skip_all, fields(to = %to))]
    pub async fn send(
        &self,
        from: &Address,
        to: &Address,
        message: &[u8],
    ) -> Result<String, SendError> {
        let envelope = lettre::address::Envelope::new(Some(from.clone()), vec![to.clone()])
            .map_err(|e| SendError {
                message: format!("bad envelope: {e}"),
                transient: false,
                kind: Kind::SmtpRefused,
            })?;
        match self {
            Mailer::File { transport, dir } => transport
                .send_raw(&envelope, message)
                .await
                .map(|id| dir.join(format!("{id}.eml")).display().to_string())
                .map_err(|e| SendError {
                    message: format!("cannot write to the outbox {}: {e}", dir.display()),
                    transient: true,
                    kind: Kind::Local,
                }),
            Mailer::Smtp { transport, host } => {
                match transport.send_raw(&envelope, message).await {
                    Ok(response) => Ok(format!("{host} ({})", response.code())),
                    Err(e) => Err(SendError {
                        transient: !e.is_permanent(),
                        kind: if e.is_permanent() {
                            Kind::SmtpRefused
                        } else {
                            Kind::SmtpTemporary
                        },
                        message: format!("SMTP {host} refused the message: {}", server_answer(&e)),
                    }),
                }
            }
        }
    }
}

/// The server's answer as it said it ("550 5.1.1 <ada@…>: mailbox unavailable"), not lettre's
/// wording around it.
fn server_answer(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    match (e.status(), text.split_once("): ")) {
        (Some(code), Some((_, said))) => format!("{code} {said}"),
        _ => text,
    }
}

/// Builds the digest email: `multipart/alternative`, plain text first, HTML second, with our own
/// Message-ID (stored, so replies can be matched to it).
pub fn build_digest_message(
    from: &Mailbox,
    digest: &Digest,
    message_id: &str,
    test: bool,
    reply: Option<&ReplyAddresses>,
) -> anyhow::Result<Message> {
    let to = Mailbox::new(
        Some(digest.subscriber.name.clone()),
        digest.subscriber.email.to_address(),
    );
    let subject = if test {
        format!("[test] {}", digest.subject())
    } else {
        digest.subject()
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
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
                .body(render_text(digest)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(render_html(digest)),
        );
    Ok(builder.multipart(body)?)
}

/// A plain-text answer to a subscriber's reply, in the same thread.
pub fn build_answer(
    from: &Mailbox,
    to: &crate::domain::Subscriber,
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
