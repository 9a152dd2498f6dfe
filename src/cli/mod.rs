//! The command line. Every command calls the same library functions the daemon uses.
//! Data goes to stdout, logs to stderr.

mod archive;
mod check;
mod daemon;
mod deliveries;
mod digest;
mod inbox;
mod join;
mod library;
mod output;
mod preview;
mod prompts;
mod runs;
mod spend;
mod store;
mod subscribers;
mod why;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::support::telemetry::LogFormat;

/// `paperboy --version`: the release, the commit it was built from and the store schema it writes.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PAPERBOY_COMMIT"),
    ", store schema ",
    env!("PAPERBOY_SCHEMA"),
    ")"
);

/// Exit codes (documented in `--help` and the README).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "paperboy",
    version = VERSION,
    about = "Mails researchers a personalized daily (or weekly) digest of new arXiv, bioRxiv and medRxiv papers.",
    after_help = "Examples:\n  paperboy digest                      run today's digest for every subscriber\n  paperboy digest --dry-run            same, but only write the emails to the outbox\n  paperboy digest --date 2025-03-28    a past announcement day (arXiv API)\n  paperboy subscribers list            who gets what\n  paperboy spend --by subscriber       what the model cost\n  paperboy runs                        recent runs and how they went\n  paperboy check                       is everything set up?\n  paperboy run                         the daemon: daily digests on schedule, replies, catch-up\n  paperboy status                      is it running, what ran, what runs next\n  paperboy archive rebuild             write the web archive again from the store\n  paperboy deliveries --failed         digests waiting or refused, with the server's answer\n  paperboy why 2503.21135 --for ada@lab.org   why a paper did or did not reach a reader\n  paperboy inbox log                   the replies read and what became of them\n  paperboy backup /var/backups/pb.db   a consistent copy of the store, while the daemon runs\n  paperboy migrate                     back the store up, then bring it to this version's schema\n  paperboy store stats                 how big the store is and what takes the room\n  paperboy prompts list                the prompts it carries, and any overrides\n  paperboy --config /etc/paperboy/paperboy.toml digest\n  sudo -u paperboy paperboy --env-file /etc/paperboy/paperboy.env why 2503.21135 --for ada@lab.org\n\nExit codes: 0 success (or no announcement today), 1 a run failed or a subscriber could not be\nscored or delivered, 2 bad configuration, subscribers file, store or arguments; `status` has its own\n(3 daemon not running, 4 last run failed, 5 degraded, 6 inbox failing, 7 an alert unsent).\n\nConfiguration: --config, else ./paperboy.toml, else /etc/paperboy/paperboy.toml, else built-in\ndefaults. Environment: an [llm] section asks for a model, whose key is in the variable named by\napi_key_env (OPENAI_API_KEY) or the file api_key_file; without [llm] a keyword scorer runs.\nPAPERBOY__SECTION__KEY overrides a config key. RUST_LOG tunes logs."
)]
pub struct Cli {
    /// Configuration file [default: ./paperboy.toml, else /etc/paperboy/paperboy.toml; neither
    /// means built-in defaults].
    #[arg(
        long,
        short,
        global = true,
        env = "PAPERBOY_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Read KEY=VALUE lines (systemd's EnvironmentFile format) into the environment first, so
    /// an admin command sees the daemon's secrets; variables already set win.
    #[arg(long, global = true, env = "PAPERBOY_ENV_FILE", value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Digest(digest::DigestArgs),
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCmd),
    Spend(spend::SpendArgs),
    Runs(runs::RunsArgs),
    Preview(preview::PreviewArgs),
    SendTest(preview::SendTestArgs),
    Check(check::CheckArgs),
    #[command(subcommand)]
    Inbox(inbox::InboxCmd),
    Run(daemon::RunArgs),
    Status(daemon::StatusArgs),
    Reload(daemon::ReloadArgs),
    Deliveries(deliveries::DeliveriesArgs),
    Why(why::WhyArgs),
    /// The web archive: every reader's digests as static pages ([archive] in paperboy.toml).
    #[command(subcommand)]
    Archive(archive::ArchiveCmd),
    /// The prompts paperboy carries, and the files that override them.
    #[command(subcommand)]
    Prompts(prompts::PromptsCmd),
    Migrate(store::MigrateArgs),
    Backup(store::BackupArgs),
    /// The store as a file: how big it is and what takes the room.
    #[command(subcommand)]
    Store(store::StoreCmd),
}

/// Where the configuration is when `--config` does not say: `./paperboy.toml`, else the
/// system-wide `/etc/paperboy/paperboy.toml` (as the package installs it), else none (defaults).
fn default_config() -> (PathBuf, bool) {
    let here = PathBuf::from("paperboy.toml");
    let system = PathBuf::from("/etc/paperboy/paperboy.toml");
    if !here.exists() && system.exists() {
        (system, true)
    } else {
        (here, false)
    }
}

pub(crate) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date; write it as YYYY-MM-DD"))
}

/// The store for a command that writes: created when missing, migrated (after a backup) when
/// older than this build.
pub(crate) fn open_store(config: &Config) -> Result<crate::store::Store, Failure> {
    crate::store::Store::open(&config.resolve(&config.store.path)).map_err(store_failure)
}

/// The store for a command that only reads: never created or migrated (a missing store reads as
/// empty; one at another schema is refused with both versions, exit 2).
pub(crate) fn read_store(config: &Config) -> Result<crate::store::Store, Failure> {
    crate::store::Store::open_existing(&config.resolve(&config.store.path)).map_err(store_failure)
}

/// A store at the wrong schema is the admin's to fix (exit 2, which the unit does not restart
/// on); anything else failed the command (exit 1).
pub(crate) fn store_failure(e: anyhow::Error) -> Failure {
    if crate::store::is_setup_problem(&e) {
        Failure::usage(e)
    } else {
        e.into()
    }
}

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// `{"error", "exit_code", "problems": [{"source", "line", "key", "message"}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let problems: Vec<serde_json::Value> = self
            .error
            .chain()
            .find_map(|e| e.downcast_ref::<crate::config::ConfigError>())
            .map(|c| {
                c.problems()
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "source": p.source, "line": p.line, "key": p.key, "message": p.message,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({
            "error": format!("{:#}", self.error),
            "exit_code": self.code,
            "problems": problems,
        })
    }

    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: error.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure {
            code: EXIT_FAILED,
            error,
        }
    }
}

/// Reads `file` (systemd's `EnvironmentFile` format, [`crate::support::envfile`]) into the
/// environment; variables already set win. What systemd would skip is warned about; what it
/// cannot read is an error naming the line, never showing it.
fn load_env_file(file: &std::path::Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        format!("line {line}: not UTF-8 (the line is not shown: it may hold a secret)")
    })?;
    let parsed = crate::support::envfile::parse(&text)
        .map_err(|p| format!("{p} (the line is not shown: it may hold a secret)"))?;
    for p in &parsed.ignored {
        eprintln!("warning: {}: {p}", file.display());
    }
    for (key, value) in parsed.vars {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(key, value);
        }
    }
    Ok(())
}

pub fn main(cli: Cli) -> ExitCode {
    // Before any thread starts: the environment is read by everything after.
    if let Some(file) = &cli.env_file {
        if let Err(e) = load_env_file(file) {
            eprintln!(
                "error: cannot read the environment file {} ({e}); it holds KEY=VALUE lines, as systemd's EnvironmentFile does",
                file.display(),
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // `--json` anywhere on the command line: errors come as JSON on stdout too.
    let json = std::env::args().any(|a| a == "--json");
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            if json {
                println!("{}", f.to_json());
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let (path, required) = match cli.config {
        Some(p) => (p, true),
        None => default_config(),
    };
    let config = Config::load(&path, required, std::env::vars()).map_err(Failure::usage)?;
    match cli.command {
        Command::Digest(args) => digest::run(config, args).await,
        Command::Subscribers(cmd) => subscribers::run(config, cmd).await,
        Command::Spend(args) => spend::run(config, args),
        Command::Runs(args) => runs::run(config, args),
        Command::Preview(args) => preview::preview(config, args).await,
        Command::SendTest(args) => preview::send_test(config, args).await,
        Command::Check(args) => check::run(config, args).await,
        Command::Inbox(cmd) => inbox::run(config, cmd).await,
        Command::Run(args) => daemon::run(config, args).await,
        Command::Status(args) => daemon::status(config, args),
        Command::Reload(args) => daemon::reload(config, args),
        Command::Archive(cmd) => archive::run(config, cmd).await,
        Command::Deliveries(args) => deliveries::run(config, args).await,
        Command::Why(args) => why::run(config, args).await,
        Command::Prompts(cmd) => prompts::run(config, cmd),
        Command::Migrate(args) => store::migrate(config, args),
        Command::Backup(args) => store::backup(config, args),
        Command::Store(cmd) => store::run(config, cmd).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_names_the_schema_this_build_writes() {
        let schema: u32 = env!("PAPERBOY_SCHEMA").parse().unwrap();
        assert_eq!(schema, crate::store::schema::SCHEMA_VERSION);
        assert!(super::VERSION.contains(&format!("store schema {schema})")));
    }
}
