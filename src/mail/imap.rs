//! Reading the inbox over IMAP (async-imap; TLS with tokio-rustls): each unseen message is handled
//! once, flagged \Seen and moved to the processed (or rejected) folder. Answers are sent after the
//! message is recorded, and again on the next poll if sending failed, so a crash loses nothing.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_imap::Session;
use futures::TryStreamExt as _;
use secrecy::ExposeSecret as _;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_util::either::Either;

use super::inbound::{Handled, Inbox, MAX_SIZE};
use super::Mailer;
use crate::config::{ImapConfig, Security};
use crate::pipeline::App;
use crate::store::inbox;

type Stream = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

#[derive(Debug, Default)]
pub struct PollReport {
    pub handled: Vec<Handled>,
    pub answers_sent: usize,
    pub answers_failed: usize,
}

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
        .with_context(|| format!("TLS with the IMAP server {host} failed"))
}

/// Connects and logs in.
pub async fn connect(cfg: &ImapConfig, password: &str) -> anyhow::Result<Session<Stream>> {
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let server = format!("{}:{}", cfg.host, cfg.port);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
        .with_context(|| {
            format!(
                "the IMAP server {server} did not answer within {}s",
                cfg.timeout_secs
            )
        })?
        .with_context(|| format!("cannot connect to the IMAP server {server}"))?;
    let client = match cfg.security {
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
    };
    client.login(&cfg.username, password).await.map_err(|(e, _)| {
        anyhow::anyhow!(
            "the IMAP server {server} refused the login for {} ({e}); check [imap] username and the password in ${}",
            cfg.username,
            cfg.password_env
        )
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

/// Handles the new mail once.
pub async fn poll(app: &App) -> anyhow::Result<PollReport> {
    let cfg = app
        .config
        .imap
        .as_ref()
        .context("no [imap] section in the configuration: paperboy does not read replies")?;
    let password = app.config.imap_password().with_context(|| {
        format!(
            "the IMAP password is not set: put it in ${}",
            cfg.password_env
        )
    })?;
    let inbox = Inbox::new(app)?;
    let mailer = Mailer::from_config(&app.config, false)?;
    let mut report = PollReport::default();

    let mut session = connect(cfg, password.expose_secret()).await?;
    session
        .select(&cfg.mailbox)
        .await
        .with_context(|| format!("cannot open the IMAP mailbox {}", cfg.mailbox))?;
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

    let mut uids: Vec<u32> = session.uid_search("UNSEEN").await?.into_iter().collect();
    uids.sort_unstable();
    for uid in uids {
        let set = uid.to_string();
        let fetched: Vec<_> = session
            .uid_fetch(&set, "(UID RFC822.SIZE BODY.PEEK[HEADER])")
            .await?
            .try_collect()
            .await?;
        let Some(head) = fetched.first() else {
            continue;
        };
        let size = head.size.unwrap_or(0) as usize;
        let handled = if size > MAX_SIZE {
            let mut raw = head.header().unwrap_or_default().to_vec();
            raw.resize(size, b' ');
            inbox.handle(&raw).await?
        } else {
            let full: Vec<_> = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await?;
            let raw = full
                .first()
                .and_then(|f| f.body())
                .unwrap_or_default()
                .to_vec();
            inbox.handle(&raw).await?
        };
        let folder = if handled.rejected() {
            &rejected
        } else {
            &processed
        };
        let _: Vec<_> = session
            .uid_store(&set, "+FLAGS (\\Seen)")
            .await?
            .try_collect()
            .await?;
        move_message(&mut session, can_move, &set, folder)
            .await
            .with_context(|| format!("cannot move message {uid} to {folder}"))?;
        if handled.outcome == "failed" {
            crate::alerts::inbox_failure(app, &handled).await?;
        }
        report.handled.push(handled);
    }
    let _ = session.logout().await;
    crate::alerts::send_pending(app).await?;

    let (sent, failed) = send_pending(app, &mailer).await?;
    report.answers_sent = sent;
    report.answers_failed = failed;
    Ok(report)
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

/// Sends the answers recorded but not sent yet. Returns (sent, failed).
pub async fn send_pending(app: &App, mailer: &Mailer) -> anyhow::Result<(usize, usize)> {
    let pending = app.store.call(|c| inbox::pending_replies(c)).await?;
    let (mut sent, mut failed) = (0, 0);
    for (id, to, bytes) in pending {
        let to_addr: lettre::Address = match to.parse() {
            Ok(a) => a,
            Err(_) => continue,
        };
        match mailer.send(&app.from.email, &to_addr, &bytes).await {
            Ok(_) => {
                sent += 1;
                app.store
                    .call(move |c| inbox::mark_reply(c, &id, "sent"))
                    .await?;
            }
            Err(e) => {
                failed += 1;
                tracing::error!(to = %to, error = %e, "could not send the answer to a reply");
                if !e.transient {
                    app.store
                        .call(move |c| inbox::mark_reply(c, &id, "failed"))
                        .await?;
                }
            }
        }
    }
    Ok((sent, failed))
}
