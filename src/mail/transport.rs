//! Where mail goes: one seam, [`Transport::send_raw`] (an envelope and the exact bytes), with an
//! SMTP, a file (the outbox folder) and an in-memory implementation. The transport is built from
//! the configuration once, by the composition root; nothing else knows which one it is.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, Security, Transport as TransportKind};
use crate::domain::problem::{Kind, Problem};

/// A message that did not go out.
#[derive(Debug, Clone, thiserror::Error)]
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

/// Sends exact bytes to an envelope's recipients.
pub trait Transport: Send + Sync {
    /// Sends `message` as it is. Returns where it went (a file path, the server and its code).
    fn send_raw<'a>(
        &'a self,
        envelope: &'a Envelope,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SendError>>;

    /// What this transport is, for logs and `check` ("SMTP host:port", "outbox DIR").
    fn describe(&self) -> String;

    /// Whether mail can go out now: the server answers (and accepts the login), or the folder is
    /// writable.
    fn check(&self) -> BoxFuture<'_, Result<String, String>>;
}

/// The transport `config` asks for. One that cannot be set up (an SMTP login without its
/// password, an outbox that cannot be made) still builds: it refuses every message with the
/// reason, so commands that send nothing keep working and a run that sends says why it could not.
pub fn from_config(config: &Config) -> Box<dyn Transport> {
    let built: anyhow::Result<Box<dyn Transport>> = if config.mail.transport == TransportKind::File
    {
        FileTransport::new(&config.resolve(&config.mail.outbox))
            .map(|t| Box::new(t) as Box<dyn Transport>)
    } else {
        SmtpTransport::from_config(config).map(|t| Box::new(t) as Box<dyn Transport>)
    };
    built.unwrap_or_else(|e| {
        Box::new(Unusable {
            reason: format!("{e:#}"),
        })
    })
}

/// A transport the configuration could not set up.
struct Unusable {
    reason: String,
}

impl Transport for Unusable {
    fn send_raw<'a>(
        &'a self,
        _: &'a Envelope,
        _: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            Err(SendError {
                message: format!("cannot send mail: {}", self.reason),
                transient: false,
                kind: Kind::Local,
            })
        })
    }

    fn describe(&self) -> String {
        "no usable transport".to_string()
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move { Err(self.reason.clone()) })
    }
}

/// An SMTP server (lettre's pooled async transport).
pub struct SmtpTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
}

impl SmtpTransport {
    fn from_config(config: &Config) -> anyhow::Result<SmtpTransport> {
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
        Ok(SmtpTransport {
            transport: builder.build(),
            host: format!("{}:{}", smtp.host, smtp.port),
        })
    }
}

impl Transport for SmtpTransport {
    fn send_raw<'a>(
        &'a self,
        envelope: &'a Envelope,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            match self.transport.send_raw(envelope, message).await {
                Ok(response) => Ok(format!("{} ({})", self.host, response.code())),
                Err(e) => Err(SendError {
                    transient: !e.is_permanent(),
                    kind: if e.is_permanent() {
                        Kind::SmtpRefused
                    } else {
                        Kind::SmtpTemporary
                    },
                    message: match super::tls_on_plaintext(
                        &e,
                        &format!("SMTP {}", self.host),
                        "mail.smtp",
                    ) {
                        Some(why) => why,
                        // No SMTP reply at all: nothing was refused, the server was not reached.
                        None if e.status().is_none() => format!(
                            "could not reach SMTP {}: {e}; check [mail.smtp] host and port (sending is tried again)",
                            self.host
                        ),
                        None => format!(
                            "SMTP {} refused the message: {}",
                            self.host,
                            server_answer(&e)
                        ),
                    },
                }),
            }
        })
    }

    fn describe(&self) -> String {
        format!("SMTP {}", self.host)
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let host = &self.host;
            match self.transport.test_connection().await {
                Ok(true) => Ok(format!("SMTP {host} accepted the connection")),
                Ok(false) => Err(format!("SMTP {host} did not answer as a mail server")),
                Err(e) => Err(
                    match super::tls_on_plaintext(&e, &format!("SMTP {host}"), "mail.smtp") {
                        Some(why) => why,
                        None => format!(
                            "SMTP {host}: {e}; check [mail.smtp] host, port, security and username, and the password in the environment variable named by password_env"
                        ),
                    },
                ),
            }
        })
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

/// `.eml` files in a folder (the outbox): the default, and every dry run.
pub struct FileTransport {
    transport: AsyncFileTransport<Tokio1Executor>,
    dir: PathBuf,
}

impl FileTransport {
    /// The outbox `dir`, created private if missing: the messages carry each reader's reply token.
    pub fn new(dir: &Path) -> anyhow::Result<FileTransport> {
        crate::support::fs::private_dir(dir)
            .with_context(|| format!("cannot create the outbox {}", dir.display()))?;
        Ok(FileTransport {
            transport: AsyncFileTransport::new(dir),
            dir: dir.to_path_buf(),
        })
    }
}

impl Transport for FileTransport {
    fn send_raw<'a>(
        &'a self,
        envelope: &'a Envelope,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let id = self
                .transport
                .send_raw(envelope, message)
                .await
                .map_err(|e| SendError {
                    message: format!("cannot write to the outbox {}: {e}", self.dir.display()),
                    transient: true,
                    kind: Kind::Local,
                })?;
            // The message carries the reader's reply token: private, whatever the umask.
            let path = self.dir.join(format!("{id}.eml"));
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| SendError {
                    message: format!("cannot make {} private: {e}", path.display()),
                    transient: true,
                    kind: Kind::Local,
                },
            )?;
            Ok(path.display().to_string())
        })
    }

    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let probe = self.dir.join(".paperboy-check");
            std::fs::write(&probe, b"ok")
                .map_err(|e| format!("cannot write to the outbox {}: {e}", self.dir.display()))?;
            let _ = std::fs::remove_file(probe);
            Ok(format!("outbox {} is writable", self.dir.display()))
        })
    }
}

/// Keeps what it is given, in memory; refuses while told to (for tests of the layers above).
#[derive(Default)]
pub struct MemoryTransport {
    sent: Mutex<Vec<(Envelope, Vec<u8>)>>,
    refuse: Mutex<Option<SendError>>,
}

impl MemoryTransport {
    pub fn new() -> MemoryTransport {
        MemoryTransport::default()
    }

    /// Every message accepted so far, in order.
    pub fn sent(&self) -> Vec<(Envelope, Vec<u8>)> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Refuses every message with `error` until called with `None`.
    pub fn refuse(&self, error: Option<SendError>) {
        *self.refuse.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

impl Transport for MemoryTransport {
    fn send_raw<'a>(
        &'a self,
        envelope: &'a Envelope,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            if let Some(e) = self
                .refuse
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return Err(e);
            }
            let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
            sent.push((envelope.clone(), message.to_vec()));
            Ok(format!("memory #{}", sent.len()))
        })
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async { Ok("memory transport".to_string()) })
    }
}
