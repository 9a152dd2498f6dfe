//! SQLite, the one place state lives. One connection owner (WAL, busy timeout, migrations at
//! open); every query is in this module, one file per table family.

pub mod alerts;
pub mod archive;
pub mod audit;
pub mod bundles;
pub mod deliveries;
pub mod embeddings;
pub mod examples;
pub mod health;
pub mod inbox;
pub mod join;
pub mod library;
pub mod outbox;
pub mod owed;
pub mod packed;
pub mod papers;
pub mod retention;
pub mod runs;
pub mod schema;
pub mod source_reads;
pub mod spend;
pub mod stats;
pub mod tldrs;
pub mod triage;
pub mod verdicts;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_audit.sql"),
    include_str!("migrations/003_inbox.sql"),
    include_str!("migrations/004_group_scoring.sql"),
    include_str!("migrations/005_archive.sql"),
    include_str!("migrations/006_owed_and_alerts.sql"),
    include_str!("migrations/007_superseded.sql"),
    include_str!("migrations/008_tokens.sql"),
    include_str!("migrations/009_tldr.sql"),
    include_str!("migrations/010_join.sql"),
    include_str!("migrations/011_library_imports.sql"),
    include_str!("migrations/012_sources.sql"),
    include_str!("migrations/013_alert_keys.sql"),
    include_str!("migrations/014_embeddings.sql"),
    include_str!("migrations/015_library_papers.sql"),
    include_str!("migrations/016_subscribe_mail.sql"),
    include_str!("migrations/017_health.sql"),
    include_str!("migrations/018_compact.sql"),
    include_str!("migrations/019_smaller_day.sql"),
    include_str!("migrations/020_metrics_health.sql"),
    include_str!("migrations/021_reply_fingerprints.sql"),
];

/// The migrations, each with the Rust code that finishes it, when SQL alone cannot.
fn migrations() -> Migrations<'static> {
    Migrations::new(
        MIGRATIONS
            .iter()
            .enumerate()
            .map(|(i, sql)| match i + 1 {
                // Tables rebuilt: every foreign key is checked before the migration commits.
                19 => M::up_with_hook(sql, |tx: &rusqlite::Transaction| {
                    triage::migrate_pairs(tx)?;
                    embeddings::migrate_f32(tx)?;
                    papers::migrate_abstracts(tx)?;
                    Ok(())
                })
                .foreign_key_check(),
                _ => M::up(sql),
            })
            .collect(),
    )
}

/// The database. Cloning is cheap; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date,
    /// saying so in the log when it migrated (see [`Store::open_migrating`]).
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let (store, opened) = Store::open_migrating(path)?;
        if let Some(line) = opened.describe(path) {
            tracing::warn!("{line}");
        }
        Ok(store)
    }

    /// Opens (or creates) the database for writing. A new data directory is created 0700 and a
    /// new database 0600: it holds readers' addresses and reply tokens. A store at an older
    /// schema is first copied beside itself (`paperboy.db.schema-N.bak`, 0600) and then migrated
    /// in one transaction; one at a newer schema is refused untouched ([`schema::SchemaError`]).
    pub fn open_migrating(path: &Path) -> anyhow::Result<(Store, schema::Opened)> {
        if let Some(why) = crate::support::fs::root_in_foreign_folder(path) {
            return Err(crate::support::fs::OwnerError(why).into());
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::support::fs::private_dir(dir)
                .map_err(|e| crate::support::fs::explain(e, dir))
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        let new = !path.exists();
        let conn = Connection::open(path)
            .map_err(|e| crate::support::fs::explain(e, path))
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        if new {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
        // Before the first statement: three processes opening a fresh store at once wait for
        // each other's switch to WAL instead of failing with "database is locked".
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| crate::support::fs::explain(e, path))
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        // Two processes opening a new database at once would both see version 0 and both
        // create the tables: one migrates while the other waits, then finds nothing to do.
        let _migrating = crate::support::lock::hold_blocking(
            &path.with_extension("migrate.lock"),
            "migrating the database",
            std::time::Duration::from_secs(120),
        )?;
        let found = schema::version_of(&conn)?;
        let opened = if found > schema::SCHEMA_VERSION {
            return Err(schema::SchemaError::TooNew {
                path: path.to_path_buf(),
                found,
            }
            .into());
        } else if found == schema::SCHEMA_VERSION {
            schema::Opened::Current
        } else if found == 0 && !Self::has_tables(&conn)? {
            schema::Opened::Created
        } else {
            let backup = schema::backup_path_before(path, found);
            schema::backup_to(&conn, &backup).with_context(|| {
                format!(
                    "cannot back up {} before migrating it; nothing was changed",
                    path.display()
                )
            })?;
            schema::Opened::Migrated {
                from: found,
                backup,
                freed: 0,
            }
        };
        let store = Self::init(conn)
            .with_context(|| format!("cannot prepare the database {}", path.display()))?;
        let opened = match opened {
            schema::Opened::Migrated { from, backup, .. } => schema::Opened::Migrated {
                from,
                backup,
                freed: store.with(|c| stats::page_bytes(c))?.1.max(0) as u64,
            },
            other => other,
        };
        Ok((store, opened))
    }

    /// Opens an existing store as it is, for commands that only read: never created, never
    /// migrated. A missing file reads as an empty store (in memory); a store at another schema
    /// is refused with both versions ([`schema::SchemaError`]).
    pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
        if let Some(why) = crate::support::fs::root_in_foreign_folder(path) {
            return Err(crate::support::fs::OwnerError(why).into());
        }
        let Some(found) = schema::version_at(path)? else {
            return Store::open_in_memory();
        };
        if found != schema::SCHEMA_VERSION {
            let path = path.to_path_buf();
            return Err(if found > schema::SCHEMA_VERSION {
                schema::SchemaError::TooNew { path, found }
            } else {
                schema::SchemaError::Behind { path, found }
            }
            .into());
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| crate::support::fs::explain(e, path))
        .with_context(|| format!("cannot open the database {}", path.display()))?;
        Self::init(conn).with_context(|| format!("cannot open the database {}", path.display()))
    }

    fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    }

    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> anyhow::Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let migrations = migrations();
        // All pending migrations in one IMMEDIATE transaction: the write lock is taken before
        // the first statement, not halfway through.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let migrated = migrations.to_latest(&mut conn);
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Deferred);
        migrated.context("schema migration failed")?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking thread pool.
    pub async fn call<F, R>(&self, f: F) -> anyhow::Result<R>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .context("database task panicked")?
        .context("database error")
    }

    /// Runs `f` with the connection on the current thread (for synchronous callers and tests).
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> anyhow::Result<R> {
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard).context("database error")
    }
}

/// Whether opening the store failed for a reason the admin must fix before anything runs (its
/// schema is another paperboy's, or its files belong to another user): exit 2, not restarted.
pub fn is_setup_problem(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<schema::SchemaError>().is_some()
            || c.downcast_ref::<crate::support::fs::OwnerError>().is_some()
    })
}

pub(crate) fn now_utc() -> String {
    crate::support::clock::now_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn reopening_a_file_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/paperboy.db");
        let store = Store::open(&path).unwrap();
        store.with(|c| c.execute("INSERT INTO sent_papers (subscriber, paper_id, day) VALUES ('a@b.org', '2503.00001', '2025-03-28')", [])).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let n: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM sent_papers", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 1);
    }
}
