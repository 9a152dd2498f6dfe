use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use super::digest::build_app;
use super::output::{self, table};
use super::{Failure, EXIT_FAILED, EXIT_OK};
use crate::app::App;
use crate::config::Config;
use crate::inbox::poll::PollReport;
use crate::inbox::{Analysis, Auth, Inbox};

/// Replies from subscribers: read the inbox, or show what paperboy makes of one message.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:\n  paperboy inbox poll\n  paperboy inbox parse reply.eml --json")]
pub enum InboxCmd {
    /// Process new mail once: apply the commands of authenticated replies, answer them, and move
    /// each message to the processed (or rejected) folder. Polling twice changes nothing twice.
    #[command(after_help = "Example:\n  paperboy inbox poll")]
    Poll {
        #[arg(long)]
        json: bool,
    },
    /// Show what paperboy understands from one message (.eml): who sent it, whether they may
    /// change anything and why, and the commands found. Changes nothing.
    #[command(after_help = "Example:\n  paperboy inbox parse ~/Downloads/reply.eml")]
    Parse {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The messages read from the inbox, newest first: who sent them, what became of them
    /// (applied, answered, rejected, ignored) and whether the answer went out.
    #[command(
        after_help = "Examples:\n  paperboy inbox log\n  paperboy inbox log --limit 200 --json"
    )]
    Log {
        #[arg(long, default_value_t = 30)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, cmd: InboxCmd) -> Result<u8, Failure> {
    if let InboxCmd::Log { limit, json } = cmd {
        return log(&config, limit, json);
    }
    let app = build_app(config).await?;
    match cmd {
        InboxCmd::Log { .. } => unreachable!("handled above"),
        InboxCmd::Parse { file, json } => parse(&app, &file, json).await,
        InboxCmd::Poll { json } => poll(&app, json).await,
    }
}

/// `inbox parse FILE`: what paperboy makes of one saved message. Changes nothing.
async fn parse(app: &App, file: &Path, json: bool) -> Result<u8, Failure> {
    let raw = read_message(file)?;
    let inbox = Inbox::new(app.inbox_ctx())?;
    let a = inbox.analyse(&raw).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&a.to_json()).context("json")?
        );
        return Ok(EXIT_OK);
    }
    print_analysis(&a);
    Ok(EXIT_OK)
}

/// The bytes of a saved message; a usage error when it cannot be read or is not mail (no From
/// and no Message-ID header).
fn read_message(file: &Path) -> Result<Vec<u8>, Failure> {
    let raw = std::fs::read(file)
        .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
    let is_mail = mail_parser::MessageParser::default()
        .parse_headers(&raw)
        .is_some_and(|m| m.from().is_some() || m.message_id().is_some());
    if !is_mail {
        return Err(Failure::usage(anyhow::anyhow!(
            "{} is not a mail message (no From or Message-ID header); save the message as .eml from your mail client",
            file.display()
        )));
    }
    Ok(raw)
}

/// The analysis as text: the message, its sender and, for a subscriber, the commands found.
fn print_analysis(a: &Analysis) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "message   {}", a.message_id);
    let _ = writeln!(out, "from      {}", a.from.as_deref().unwrap_or("-"));
    let _ = writeln!(out, "subject   {}", a.subject);
    let _ = writeln!(out, "sender    {}", sender(&a.auth));
    if matches!(a.auth, Auth::Subscriber { .. }) {
        let _ = writeln!(out, "\ncommands:");
        for c in &a.parsed.commands {
            let _ = writeln!(out, "  {c}");
        }
        if a.parsed.commands.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for i in &a.parsed.invalid {
            let _ = writeln!(out, "  invalid: {i}");
        }
        for o in &a.parsed.other {
            let _ = writeln!(out, "  not a command: {o}");
        }
    }
}

/// Who the sender is to paperboy, and whether they may change anything.
fn sender(auth: &Auth) -> String {
    match auth {
        Auth::Subscriber { email, how, .. } => {
            format!("{} {email} (by {how})", output::status("ok"))
        }
        Auth::Unsubscribe {
            email,
            by_owner: true,
        } => {
            format!("unsubscribe request from {email} themself")
        }
        Auth::Unsubscribe { email, .. } => format!(
            "unsubscribe request for {email} from someone else (the reader is asked to confirm)"
        ),
        Auth::Subscribe { email } => {
            format!("a subscribe request from {email} (a confirmation goes there)")
        }
        Auth::Join { .. } => "a reply to a subscribe confirmation".to_string(),
        Auth::Rejected(why) => format!("{}: {why}", output::status("failed")),
        Auth::Ignored(why) => format!("ignored: {why}"),
    }
}

/// `inbox poll`: handles the new mail once; exits 1 when an answer could not be sent.
async fn poll(app: &App, json: bool) -> Result<u8, Failure> {
    if app.config.imap.is_none() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no [imap] section in the configuration: paperboy does not read replies (see paperboy.toml.example for [imap])"
        )));
    }
    let report = app.poll_inbox().await?;
    if json {
        print_poll_json(&report)?;
    } else if report.handled.is_empty() {
        println!("no new mail ({} answers sent)", report.answers_sent);
    } else {
        print_poll_table(&report);
    }
    Ok(if report.answers_failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The poll as JSON: the messages handled and the answers sent and failed.
fn print_poll_json(report: &PollReport) -> Result<(), Failure> {
    let v = serde_json::json!({
        "messages": report.handled.iter().map(|h| serde_json::json!({
            "message_id": h.message_id, "outcome": h.outcome.as_str(), "detail": h.detail, "subscriber": h.subscriber,
        })).collect::<Vec<_>>(),
        "answers_sent": report.answers_sent,
        "answers_failed": report.answers_failed,
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The messages handled as a table, then the answers sent and failed.
fn print_poll_table(report: &PollReport) {
    let rows: Vec<Vec<String>> = report
        .handled
        .iter()
        .map(|h| {
            vec![
                h.subscriber.clone().unwrap_or_else(|| "-".into()),
                output::status(h.outcome.as_str()),
                h.detail.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["subscriber", "outcome", "detail"], &rows, &[])
    );
    println!(
        "{} answers sent, {} failed",
        report.answers_sent, report.answers_failed
    );
}

/// `inbox log`: the messages read from the inbox, newest first.
fn log(config: &Config, limit: usize, json: bool) -> Result<u8, Failure> {
    let store = super::read_store(config)?;
    let entries = store.inbox_log(limit)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries).context("json")?
        );
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    if entries.is_empty() {
        let _ = writeln!(out, "No mail has been read from the inbox yet.");
        return Ok(EXIT_OK);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.received_at.clone(),
                e.sender.clone().unwrap_or_else(|| "-".into()),
                output::status(&e.outcome),
                e.reply_status.clone().unwrap_or_else(|| "-".into()),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "{}",
        output::table(
            &["received", "from", "outcome", "answer", "detail"],
            &rows,
            &[]
        )
    );
    Ok(EXIT_OK)
}
