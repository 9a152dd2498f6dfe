//! The store as a file an operator looks after: migrate it on purpose, back it up while the
//! daemon runs, see what takes the room.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::output::table;
use super::{read_store, store_failure, Failure, EXIT_OK};
use crate::config::Config;
use crate::store::schema::{self, SCHEMA_VERSION};
use crate::store::Store;

/// Bring the store up to this paperboy's schema: it is first copied beside itself
/// (`paperboy.db.schema-N.bak`, 0600), then migrated in one transaction. The daemon does the
/// same at start; every other command that only reads refuses an older store instead.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy migrate\n  paperboy --config /etc/paperboy/paperboy.toml migrate"
)]
pub struct MigrateArgs {}

pub fn migrate(config: Config, _args: MigrateArgs) -> Result<u8, Failure> {
    let path = config.resolve(&config.store.path);
    let (_store, opened) = Store::open_migrating(&path).map_err(store_failure)?;
    let mut out = std::io::stdout().lock();
    let _ = match opened {
        schema::Opened::Created => writeln!(
            out,
            "created the store {} at schema {SCHEMA_VERSION}",
            path.display()
        ),
        schema::Opened::Current => writeln!(
            out,
            "the store {} is at schema {SCHEMA_VERSION} already: nothing to do",
            path.display()
        ),
        ref m @ schema::Opened::Migrated { .. } => {
            writeln!(out, "{}", m.describe(&path).unwrap_or_default())
        }
    };
    Ok(EXIT_OK)
}

/// Copy the store to FILE while paperboy may be running (SQLite's online backup API, so the
/// copy is consistent, write-ahead log included; FILE is 0600). A plain `cp` of the database
/// misses what is still in its `-wal` file. To restore, stop the daemon and put the copy in
/// place of `[store] path` (see the README's "Backup and restore").
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy backup /var/backups/paperboy/paperboy-$(date +%F).db\n  paperboy backup --json backup.db"
)]
pub struct BackupArgs {
    /// Where to write the copy (replaced only once the copy is whole).
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn backup(config: Config, args: BackupArgs) -> Result<u8, Failure> {
    let path = config.resolve(&config.store.path);
    if !path.exists() {
        return Err(Failure::usage(anyhow::anyhow!(
            "there is no store at {} to back up (is --config right?)",
            path.display()
        )));
    }
    // Over the store itself (or its WAL), the "backup" would swap the file under the daemon:
    // refused whatever path leads there (a symlink to the store, or the file behind a
    // symlinked store path).
    // A path with its folder's symlinks resolved (the file's own link kept), and with the file
    // resolved too when it exists.
    let in_real_dir = |p: &std::path::Path| -> Option<PathBuf> {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        Some(dir.canonicalize().ok()?.join(p.file_name()?))
    };
    let real = |p: &std::path::Path| p.canonicalize().ok().or_else(|| in_real_dir(p));
    let store_files: Vec<PathBuf> = [real(&path), in_real_dir(&path)]
        .into_iter()
        .flatten()
        .flat_map(|store| {
            let name = store.as_os_str().to_string_lossy().into_owned();
            ["", "-wal", "-shm", "-journal"].map(|s| PathBuf::from(format!("{name}{s}")))
        })
        .collect();
    if real(&args.file).is_some_and(|dest| store_files.contains(&dest)) {
        return Err(Failure::usage(anyhow::anyhow!(
            "{} is the store itself (or one of its files): write the backup somewhere else, e.g. {}",
            args.file.display(),
            path.with_file_name("paperboy-backup.db").display()
        )));
    }
    // Any schema: a backup is what an operator wants before an upgrade, too.
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
    let found = schema::version_of(&conn).context("not a paperboy database")?;
    let bytes = schema::backup_to(&conn, &args.file).with_context(|| {
        format!(
            "cannot back up {} to {}",
            path.display(),
            args.file.display()
        )
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"store": path, "backup": args.file, "bytes": bytes, "schema": found})
        );
    } else {
        println!(
            "backed up {} to {} ({}, schema {found})",
            path.display(),
            args.file.display(),
            human_bytes(bytes as i64)
        );
    }
    Ok(EXIT_OK)
}

/// The store as a file: its size, and what takes the room.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Prune what is older than `[store] keep_days` (or --keep-days) now, as the daemon does after
    /// each run: sent digests' bytes and pages, superseded digests, triage decisions, answered
    /// replies. Never the ledger of papers sent, the runs, the verdicts or the spend.
    #[command(
        after_help = "Examples:\n  paperboy store prune\n  paperboy store prune --keep-days 90 --vacuum\n  paperboy store prune --vacuum        only compact the file"
    )]
    Prune {
        /// Days to keep (default: `[store] keep_days`).
        #[arg(long)]
        keep_days: Option<u32>,
        /// Give the freed pages back to the file system afterwards (rewrites the file; needs as
        /// much free disk as the store). Alone, it only compacts.
        #[arg(long)]
        vacuum: bool,
        /// What was pruned and the file's size before and after, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Size on disk (with the write-ahead log), days covered, rows and message bytes per table.
    #[command(after_help = "Examples:\n  paperboy store stats\n  paperboy store stats --json")]
    Stats {
        /// The same, as JSON (`tables`: rows and bytes on disk per table).
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, cmd: StoreCmd) -> Result<u8, Failure> {
    match cmd {
        StoreCmd::Stats { json } => stats(&config, json),
        StoreCmd::Prune {
            keep_days,
            vacuum,
            json,
        } => prune(&config, keep_days, vacuum, json).await,
    }
}

fn stats(config: &Config, json: bool) -> Result<u8, Failure> {
    let path = config.resolve(&config.store.path);
    let store = read_store(config)?;
    let s = store.stats(&path)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "store      {}  {} (+{} write-ahead log, {} free for reuse), schema {}",
        path.display(),
        human_bytes(s.file_bytes as i64),
        human_bytes(s.wal_bytes as i64),
        human_bytes(s.free_bytes),
        s.schema
    );
    let _ = writeln!(
        out,
        "days       {}\n",
        match (&s.oldest_day, &s.newest_day) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            _ => "no runs yet".into(),
        }
    );
    let rows: Vec<Vec<String>> = s
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.rows.to_string(),
                human_bytes(t.disk_bytes),
                t.payload_bytes.map(human_bytes).unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "{}",
        table(
            &["table", "rows", "on disk", "of which mail/vectors"],
            &rows,
            &[1, 2, 3]
        )
    );
    Ok(EXIT_OK)
}

async fn prune(
    config: &Config,
    keep: Option<u32>,
    vacuum: bool,
    json: bool,
) -> Result<u8, Failure> {
    let keep = keep.or(config.store.keep_days);
    if keep.is_none() && !vacuum {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to prune by: set [store] keep_days in the configuration or give --keep-days (or only compact the file: --vacuum)"
        )));
    }
    let store = super::open_store(config)?;
    let today = crate::support::clock::Clock::from_env()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?
        .now()
        .date_naive();
    let pruned = match keep {
        Some(keep) => Some(store.prune(today, keep).await?),
        None => None,
    };
    let size = |store: &Store| -> Result<i64, Failure> {
        Ok(store.with(|c| crate::store::stats::page_bytes(c))?.0)
    };
    let before = size(&store)?;
    if vacuum {
        store.with(|c| c.execute_batch("VACUUM"))?;
    }
    let after = size(&store)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"keep_days": keep, "pruned": pruned, "vacuumed": vacuum, "file_bytes_before": before, "file_bytes": after})
        );
        return Ok(EXIT_OK);
    }
    if let (Some(keep), Some(pruned)) = (keep, pruned) {
        println!(
            "pruned what is older than {keep} day{}: {} digests' bytes and pages, {} superseded digests, {} triage decisions, {} alerts, {} answers",
            if keep == 1 { "" } else { "s" },
            pruned.digests,
            pruned.superseded,
            pruned.triage,
            pruned.alerts,
            pruned.answers,
        );
    }
    if vacuum {
        println!(
            "compacted the file: {} → {}",
            human_bytes(before),
            human_bytes(after)
        );
    }
    Ok(EXIT_OK)
}

/// `1.4 MB`, `812 KB`, `96 B` (powers of 1,000, as `du --si` and file managers show them).
fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} KB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}
