//! The store's schema over time: which version a file is at, opening it without migrating (read-only
//! commands), migrating on purpose with a backup first, and online backups.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rusqlite::Connection;

use super::MIGRATIONS;

/// The schema version this build writes (the number of migrations it knows).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Why a store could not be opened as it is.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file was written by a newer paperboy: nothing here may touch it.
    #[error("the store {path} is at schema {found}, newer than this paperboy (schema {SCHEMA_VERSION}): run the paperboy that wrote it, or restore the backup made before its upgrade")]
    TooNew { path: PathBuf, found: u32 },
    /// The file is older than this build and the command only reads.
    #[error("the store {path} is at schema {found}; this paperboy reads schema {SCHEMA_VERSION}: run `paperboy migrate` (it backs the store up first) or start the daemon, which does the same")]
    Behind { path: PathBuf, found: u32 },
}

/// What opening a store for writing did to its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new file, created at the current schema.
    Created,
    /// Already at the current schema.
    Current,
    /// Migrated from `from` to [`SCHEMA_VERSION`], after a copy was saved at `backup`; `freed`
    /// bytes inside the file are free pages afterwards (tables the migration rebuilt).
    Migrated {
        from: u32,
        backup: PathBuf,
        freed: u64,
    },
}

impl Opened {
    /// One line for the admin, or `None` when there is nothing to say.
    pub fn describe(&self, path: &Path) -> Option<String> {
        match self {
            Opened::Migrated {
                from,
                backup,
                freed,
            } => Some(format!(
                "migrated the store {} from schema {from} to {SCHEMA_VERSION}; the store as it was is saved at {}{}",
                path.display(),
                backup.display(),
                if *freed >= 256 * 1024 {
                    format!(
                        "; {:.1} MB inside the file is free now, reused by the next days (`paperboy store prune --vacuum` gives it back at once)",
                        *freed as f64 / 1e6
                    )
                } else {
                    String::new()
                }
            )),
            Opened::Created | Opened::Current => None,
        }
    }
}

/// The schema version recorded in an open connection (`PRAGMA user_version`).
pub fn version_of(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

/// The schema version of the store file at `path`, read without writing anything (`None`: no file).
pub fn version_at(path: &Path) -> anyhow::Result<Option<u32>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(Some(version_of(&conn).with_context(|| {
        format!("{} is not a paperboy database", path.display())
    })?))
}

/// Where the copy made before migrating from `from` goes: beside the store, named by the schema.
pub fn backup_path_before(path: &Path, from: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "paperboy.db".into());
    path.with_file_name(format!("{name}.schema-{from}.bak"))
}

/// Copies the open database `conn` to `dest` with SQLite's online backup API: consistent while
/// other processes write (the WAL included), written to a temporary file beside `dest` and
/// renamed into place, 0600 from the start. An existing `dest` is replaced only when the copy is
/// complete.
pub fn backup_to(conn: &Connection, dest: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".paperboy-backup-")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write a backup in {}", dir.display()))?;
    // Keep the name; SQLite writes through its own handle.
    let (file, tmp_path) = tmp
        .keep()
        .context("cannot keep the backup's temporary file")?;
    drop(file);
    let copied = (|| -> anyhow::Result<()> {
        conn.backup(rusqlite::MAIN_DB, &tmp_path, None)
            .context("SQLite's backup failed")?;
        let check = Connection::open(&tmp_path)?;
        let ok: String = check.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        anyhow::ensure!(ok == "ok", "the copy does not check out: {ok}");
        // A backup is one file: fold its WAL in and leave no -wal/-shm beside it.
        check.pragma_update(None, "journal_mode", "DELETE")?;
        drop(check);
        std::fs::rename(&tmp_path, dest)
            .with_context(|| format!("cannot move the backup to {}", dest.display()))?;
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(e);
    }
    // The rename keeps the temporary file's 0600; say so for a `dest` that existed with others.
    let _ = std::fs::OpenOptions::new()
        .mode(0o600)
        .open(dest)
        .and_then(|f| f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)));
    Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn an_old_store_is_backed_up_then_migrated_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperboy.db");
        // A store as schema 3 left it.
        {
            let mut conn = Connection::open(&path).unwrap();
            let old = rusqlite_migration::Migrations::new(
                MIGRATIONS[..3]
                    .iter()
                    .map(|s| rusqlite_migration::M::up(s))
                    .collect(),
            );
            old.to_latest(&mut conn).unwrap();
            conn.execute("INSERT INTO sent_papers (subscriber, paper_id, day) VALUES ('a@b.org', '2503.00001', '2025-03-28')", []).unwrap();
        }
        assert_eq!(version_at(&path).unwrap(), Some(3));
        let err = Store::open_existing(&path)
            .err()
            .expect("read-only refuses");
        assert!(
            matches!(
                err.downcast_ref::<SchemaError>(),
                Some(SchemaError::Behind { found: 3, .. })
            ),
            "{err:#}"
        );
        assert_eq!(
            version_at(&path).unwrap(),
            Some(3),
            "reading never migrates"
        );

        let (store, opened) = Store::open_migrating(&path).unwrap();
        let backup = backup_path_before(&path, 3);
        assert!(
            matches!(&opened, Opened::Migrated { from: 3, backup: b, .. } if *b == backup),
            "{opened:?}"
        );
        drop(store);
        assert_eq!(version_at(&path).unwrap(), Some(SCHEMA_VERSION));
        assert_eq!(version_at(&backup).unwrap(), Some(3));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let kept: i64 = Connection::open(&backup)
            .unwrap()
            .query_row("SELECT count(*) FROM sent_papers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);

        // A store from the future: refused by both doors, untouched.
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        for err in [
            Store::open_existing(&path).err().unwrap(),
            Store::open_migrating(&path).err().unwrap(),
        ] {
            assert!(
                matches!(
                    err.downcast_ref::<SchemaError>(),
                    Some(SchemaError::TooNew { .. })
                ),
                "{err:#}"
            );
        }
        assert_eq!(version_at(&path).unwrap(), Some(SCHEMA_VERSION + 1));
    }

    #[test]
    fn schema_18s_triage_rows_vectors_and_verdicts_are_carried_into_19() {
        use crate::domain::PaperId;
        use crate::store::triage::{Decision, Reason};
        use crate::store::verdicts::VerdictKey;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperboy.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            rusqlite_migration::Migrations::new(
                MIGRATIONS[..18]
                    .iter()
                    .map(|s| rusqlite_migration::M::up(s))
                    .collect(),
            )
            .to_latest(&mut conn)
            .unwrap();
            let v: Vec<u8> = [0.6f32, -0.8, 0.0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            conn.execute_batch(
                "INSERT INTO papers (id, version, title, authors, abstract, categories, first_seen, updated_at)
                     VALUES ('2503.21135', 1, 't', '[]', 'a', '[]', 'x', 'x'), ('2503.21536', 1, 't', '[]', 'a', '[]', 'x', 'x');
                 INSERT INTO triage_keys (id, profile_hash, model, prompt_version) VALUES (5, 'p1', 'm', 't1');
                 INSERT INTO triage_pairs VALUES (5, '2503.21135', 0, 3, 1, 12, -431234), (5, '2503.21536', 1, 1, 1, NULL, NULL);
                 INSERT INTO verdicts (paper_id, profile_hash, model, prompt_version, relevance, novelty, comment, run_id, created_at)
                     VALUES ('2503.21536', 'p1', 'm', 'v3', 8, 6, 'MoE', 1, 'x');
                 INSERT INTO sent_papers VALUES ('a@b.org', '2503.21536', '2025-03-28');
                 INSERT INTO runs (id, day, started_at, status) VALUES (1, '2025-03-28', 'x', 'ok');
                 INSERT INTO run_subscribers (run_id, subscriber, status) VALUES (1, 'a@b.org', 'delivered');",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO embeddings VALUES ('e', 'h1', 'paper', 3, ?1, 'x')",
                [v],
            )
            .unwrap();
        }
        let (store, _) = Store::open_migrating(&path).unwrap();
        let (a, b) = (
            PaperId::parse("2503.21135").unwrap(),
            PaperId::parse("2503.21536").unwrap(),
        );
        let key = |version: &str| VerdictKey {
            profile_hash: "p1".into(),
            model: "m".into(),
            prompt_version: version.into(),
        };
        let triage = store
            .with(|c| crate::store::triage::load(c, &key("t1"), &[a.clone(), b.clone()]))
            .unwrap();
        match triage[&a] {
            Decision {
                kept: false,
                reason:
                    Reason::Nearest {
                        rank: 12,
                        similarity,
                    },
            } => assert!((similarity + 0.431).abs() < 1e-6, "{similarity}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            triage[&b],
            Decision {
                kept: true,
                reason: Reason::Keyword
            }
        );
        let verdicts = store
            .with(|c| crate::store::verdicts::load(c, &key("v3"), std::slice::from_ref(&b)))
            .unwrap();
        assert_eq!(verdicts[&b].comment, "MoE");
        assert_eq!(verdicts[&b].relevance.get(), 8);
        let view: i64 = store
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM verdicts WHERE profile_hash = 'p1'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(view, 1, "the verdicts view reads as the table did");
        let sent: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM sent_papers", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(sent, 1);
        let vectors = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.vectors("e", vec!["h1".into()]))
            .unwrap();
        let v = &vectors["h1"];
        assert!(
            (v[0] - 0.6).abs() < 0.01 && (v[1] + 0.8).abs() < 0.01,
            "{v:?}"
        );
        let left: i64 = store
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE name IN ('triage_pairs', 'triage_keys', 'triage', 'embeddings_q')",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(left, 0, "the old tables are gone");
        let points_at: String = store
            .with(|c| {
                c.query_row(
                    "SELECT \"table\" FROM pragma_foreign_key_list('run_subscribers')",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(points_at, "runs", "run_subscribers still points at runs");
        let kept: i64 = store
            .with(|c| {
                c.execute(
                    "INSERT INTO runs (day, started_at, status) VALUES ('2025-03-31', 'y', 'interrupted')",
                    [],
                )?;
                c.query_row(
                    "SELECT count(*) FROM run_subscribers JOIN runs ON runs.id = run_id WHERE runs.status = 'ok'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(
            kept, 1,
            "runs and what they did for each reader carried over"
        );
        let papers = store
            .with(|c| crate::store::papers::by_ids(c, std::slice::from_ref(&a)))
            .unwrap();
        assert_eq!(
            papers[0].abstract_text, "a",
            "abstracts are deflated and read back"
        );
        let clear: i64 = store
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM papers WHERE abstract <> ''",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(clear, 0);
    }

    #[test]
    fn a_migration_that_frees_room_in_the_file_says_so() {
        let path = Path::new("/var/lib/paperboy/data/paperboy.db");
        let said = |freed| {
            Opened::Migrated {
                from: 18,
                backup: backup_path_before(path, 18),
                freed,
            }
            .describe(path)
            .unwrap()
        };
        assert!(
            said(5_000_000).contains("5.0 MB inside the file is free now")
                && said(5_000_000).contains("store prune --vacuum"),
            "{}",
            said(5_000_000)
        );
        assert!(!said(4096).contains("free now"), "{}", said(4096));
        assert!(said(0).contains("paperboy.db.schema-18.bak"));
    }

    #[test]
    fn a_missing_store_reads_as_empty_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/paperboy.db");
        let store = Store::open_existing(&path).unwrap();
        let n: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 0);
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists());
    }
}
