//! The inbox over IMAP (async-imap; TLS with tokio-rustls): list the unseen messages, fetch one,
//! flag it \Seen and move it to the processed or rejected folder. What a message means is the
//! inbox service's business, not this one's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_imap::Session;
use futures::TryStreamExt as _;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_util::either::Either;

use crate::config::{ImapConfig, Security};

type Stream = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

async fn tls(
    host: &str,
    ca_file: Option<&std::path::Path>,
    tcp: TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read [imap] ca_file {}", path.display()))?;
        for cert in certs {
            let cert = cert.with_context(|| {
                format!("[imap] ca_file {} holds a bad certificate", path.display())
            })?;
            roots.add(cert).with_context(|| {
                format!(
                    "[imap] ca_file {}: not a usable root certificate",
                    path.display()
                )
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("`{host}` is not a host name"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| {
            match super::tls_on_plaintext(&e, &format!("the IMAP server {host}"), "imap") {
                Some(why) => anyhow::anyhow!(why),
                None => {
                    anyhow::Error::new(e).context(format!("TLS with the IMAP server {host} failed"))
                }
            }
        })
}

/// What the server said in a NO or BAD answer, without async-imap's debug wrapping
/// (`code: None, info: Some("Mailbox doesn't exist: Inbx")` → `Mailbox doesn't exist: Inbx`).
pub fn server_said(e: &async_imap::error::Error) -> String {
    let text = match e {
        async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => s.clone(),
        other => return other.to_string(),
    };
    let said = regex::Regex::new(r#"(?:information|info): Some\("((?:[^"\\]|\\.)*)"\)"#)
        .expect("a valid pattern")
        .captures(&text)
        .map(|c| c[1].replace("\\\"", "\""));
    said.unwrap_or(text)
}

/// A step of talking to the server, within `[imap] timeout_secs`: a server that accepts the
/// connection and then says nothing is an error the poll reports, never a poll that hangs (and
/// holds the inbox lock) for good.
async fn within<T>(
    cfg: &ImapConfig,
    what: &str,
    step: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(Duration::from_secs(cfg.timeout_secs), step).await {
        Ok(done) => done,
        Err(_) => anyhow::bail!(
            "the IMAP server {}:{} did not answer within {}s ({what}); check [imap] host, port and security, or raise [imap] timeout_secs",
            cfg.host,
            cfg.port,
            cfg.timeout_secs
        ),
    }
}

/// Connects and logs in, each step within `[imap] timeout_secs`.
pub async fn connect(cfg: &ImapConfig, password: &str) -> anyhow::Result<Session<Stream>> {
    let server = format!("{}:{}", cfg.host, cfg.port);
    let tcp = within(cfg, "connecting", async {
        TcpStream::connect((cfg.host.as_str(), cfg.port))
            .await
            .with_context(|| format!("cannot connect to the IMAP server {server}"))
    })
    .await?;
    let client = within(cfg, "its greeting", greet(cfg, tcp)).await?;
    within(cfg, "the login", async {
        client.login(&cfg.username, password).await.map_err(|(e, _)| {
            anyhow::anyhow!(
                "the IMAP server {server} refused the login for {} ({}); check [imap] username and the password in ${}",
                cfg.username,
                server_said(&e),
                cfg.password_env
            )
        })
    })
    .await
}

/// The server's greeting read, and TLS started as `[imap] security` says.
async fn greet(cfg: &ImapConfig, tcp: TcpStream) -> anyhow::Result<async_imap::Client<Stream>> {
    Ok(match cfg.security {
        Security::None => {
            let stream: Stream = Either::Left(tcp);
            let mut c = async_imap::Client::new(stream);
            c.read_response()
                .await
                .context("reading the IMAP greeting")?;
            c
        }
        Security::Tls => {
            let stream: Stream = Either::Right(tls(&cfg.host, cfg.ca_file.as_deref(), tcp).await?);
            let mut c = async_imap::Client::new(stream);
            c.read_response()
                .await
                .context("reading the IMAP greeting")?;
            c
        }
        Security::Starttls => {
            let plain_stream: Stream = Either::Left(tcp);
            let mut plain = async_imap::Client::new(plain_stream);
            plain
                .read_response()
                .await
                .context("reading the IMAP greeting")?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .context("the IMAP server refused STARTTLS")?;
            let Either::Left(tcp) = plain.into_inner() else {
                unreachable!("the plain connection was made above")
            };
            // No second greeting after STARTTLS.
            async_imap::Client::new(Either::Right(
                tls(&cfg.host, cfg.ca_file.as_deref(), tcp).await?,
            ))
        }
    })
}

/// The server's hierarchy delimiter ("/" on Gmail, "." on Dovecot's Maildir).
async fn delimiter(session: &mut Session<Stream>, mailbox: &str) -> anyhow::Result<String> {
    for pattern in ["", mailbox] {
        let names: Vec<_> = session
            .list(Some(""), Some(pattern))
            .await?
            .try_collect()
            .await?;
        if let Some(d) = names.iter().find_map(|n| n.delimiter()) {
            return Ok(d.to_string());
        }
    }
    Ok("/".to_string())
}

async fn ensure_folder(session: &mut Session<Stream>, name: &str) -> anyhow::Result<()> {
    let existing: Vec<_> = session
        .list(Some(""), Some(name))
        .await?
        .try_collect()
        .await?;
    if existing.is_empty() {
        session
            .create(name)
            .await
            .with_context(|| format!("cannot create the IMAP folder {name}"))?;
    }
    Ok(())
}

/// MOVE where the server has it (RFC 6851), otherwise COPY, flag \Deleted and expunge.
async fn move_message(
    session: &mut Session<Stream>,
    can_move: bool,
    set: &str,
    folder: &str,
) -> anyhow::Result<()> {
    if can_move {
        session.uid_mv(set, folder).await?;
        return Ok(());
    }
    session.uid_copy(set, folder).await?;
    let _: Vec<_> = session
        .uid_store(set, "+FLAGS (\\Deleted)")
        .await?
        .try_collect()
        .await?;
    let _: Vec<_> = session.uid_expunge(set).await?.try_collect().await?;
    Ok(())
}

/// An open mailbox: the configured one selected, its processed and rejected folders made.
pub struct ImapMailbox {
    session: Session<Stream>,
    cfg: ImapConfig,
    can_move: bool,
    processed: String,
    rejected: String,
}

/// Where a handled message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Processed,
    Rejected,
}

impl ImapMailbox {
    /// Connects, logs in, selects `[imap] mailbox` and makes sure both folders exist.
    pub async fn open(cfg: &ImapConfig, password: &str) -> anyhow::Result<ImapMailbox> {
        let mut session = connect(cfg, password).await?;
        let (can_move, processed, rejected) = within(cfg, "opening the mailbox", async {
            session.select(&cfg.mailbox).await.map_err(|e| {
                anyhow::anyhow!(
                    "the IMAP server has no mailbox `{}` to read replies from (it said: {}); set [imap] mailbox to one that exists, usually INBOX",
                    cfg.mailbox,
                    server_said(&e)
                )
            })?;
            let delim = delimiter(&mut session, &cfg.mailbox).await?;
            let can_move = session
                .capabilities()
                .await
                .map(|c| c.has_str("MOVE"))
                .unwrap_or(false);
            let processed = cfg.processed_folder.replace('/', &delim);
            let rejected = cfg.rejected_folder.replace('/', &delim);
            ensure_folder(&mut session, &processed).await?;
            ensure_folder(&mut session, &rejected).await?;
            Ok((can_move, processed, rejected))
        })
        .await?;
        Ok(ImapMailbox {
            session,
            cfg: cfg.clone(),
            can_move,
            processed,
            rejected,
        })
    }

    /// The UIDs of the unseen messages, oldest first.
    pub async fn unseen(&mut self) -> anyhow::Result<Vec<u32>> {
        let session = &mut self.session;
        let mut uids: Vec<u32> = within(&self.cfg, "searching for unseen messages", async {
            Ok(session.uid_search("UNSEEN").await?.into_iter().collect())
        })
        .await?;
        uids.sort_unstable();
        Ok(uids)
    }

    /// The message `uid` as sent, without marking it seen; `None` if it is gone. A message over
    /// `max_size` bytes is not downloaded: its header comes back padded to its size, so the
    /// reader of it sees how large it is.
    pub async fn fetch(&mut self, uid: u32, max_size: usize) -> anyhow::Result<Option<Vec<u8>>> {
        let session = &mut self.session;
        within(&self.cfg, &format!("fetching message {uid}"), async {
            let set = uid.to_string();
            let fetched: Vec<_> = session
                .uid_fetch(&set, "(UID RFC822.SIZE BODY.PEEK[HEADER])")
                .await?
                .try_collect()
                .await?;
            let Some(head) = fetched.first() else {
                return Ok(None);
            };
            let size = head.size.unwrap_or(0) as usize;
            if size > max_size {
                let mut raw = head.header().unwrap_or_default().to_vec();
                raw.resize(size, b' ');
                return Ok(Some(raw));
            }
            let full: Vec<_> = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await?;
            Ok(Some(
                full.first()
                    .and_then(|f| f.body())
                    .unwrap_or_default()
                    .to_vec(),
            ))
        })
        .await
    }

    /// Flags `uid` \Seen and moves it to `folder`.
    pub async fn file(&mut self, uid: u32, folder: Folder) -> anyhow::Result<()> {
        let set = uid.to_string();
        let folder = match folder {
            Folder::Processed => &self.processed,
            Folder::Rejected => &self.rejected,
        };
        let (session, can_move) = (&mut self.session, self.can_move);
        within(&self.cfg, &format!("filing message {uid}"), async {
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS (\\Seen)")
                .await?
                .try_collect()
                .await?;
            move_message(session, can_move, &set, folder)
                .await
                .with_context(|| format!("cannot move message {uid} to {folder}"))
        })
        .await
    }

    pub async fn logout(mut self) {
        let timeout = Duration::from_secs(self.cfg.timeout_secs);
        let _ = tokio::time::timeout(timeout, self.session.logout()).await;
    }
}
