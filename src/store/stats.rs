//! How big the store is and what takes the room: `paperboy store stats`.

use std::path::Path;

use super::Store;

/// One table: its rows, its pages on disk (indexes included), and the bytes of its largest
/// column family, where that is what grows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableStats {
    pub table: String,
    pub rows: i64,
    /// The table's and its indexes' pages, as SQLite's `dbstat` counts them.
    pub disk_bytes: i64,
    /// Bytes of stored messages or vectors in it (the exact mail bytes, embeddings), if any.
    pub payload_bytes: Option<i64>,
}

/// The store's size on disk and its tables.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    pub file_bytes: u64,
    pub wal_bytes: u64,
    /// Pages SQLite keeps free for reuse (a `VACUUM` would give them back).
    pub free_bytes: i64,
    pub schema: u32,
    pub oldest_day: Option<String>,
    pub newest_day: Option<String>,
    pub tables: Vec<TableStats>,
}

/// The column whose bytes dominate a table, for the tables that carry one.
fn payload_column(table: &str) -> Option<&'static str> {
    match table {
        "deliveries" | "alerts" | "superseded_deliveries" => Some("message"),
        "inbound" => Some("reply"),
        "embeddings" => Some("vector"),
        "mail_bundles" => Some("bundle"),
        _ => None,
    }
}

/// The database's pages in bytes: all of them, and those free for reuse (what a `VACUUM` would
/// give back).
pub fn page_bytes(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT p.page_count * s.page_size, f.freelist_count * s.page_size
         FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

impl Store {
    /// Row counts for every table, the payload bytes of those that hold messages or vectors, and
    /// the file's size (with its write-ahead log).
    pub fn stats(&self, path: &Path) -> anyhow::Result<StoreStats> {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let (file_bytes, wal_bytes) = (size(path), size(Path::new(&wal)));
        self.with(|c| {
            let names: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let disk: std::collections::HashMap<String, i64> = c
                .prepare(
                    "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut tables = Vec::new();
            for name in names {
                // Names come from sqlite_master, quoted as identifiers.
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                let rows: i64 =
                    c.query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))?;
                let payload_bytes = match payload_column(&name) {
                    Some(col) => Some(c.query_row(
                        &format!("SELECT coalesce(sum(length({col})), 0) FROM {quoted}"),
                        [],
                        |r| r.get(0),
                    )?),
                    None => None,
                };
                tables.push(TableStats {
                    disk_bytes: disk.get(&name).copied().unwrap_or(0),
                    table: name,
                    rows,
                    payload_bytes,
                });
            }
            let (_, free_bytes) = page_bytes(c)?;
            let (oldest_day, newest_day) = c.query_row(
                "SELECT min(day), max(day) FROM runs WHERE day IS NOT NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(StoreStats {
                file_bytes,
                wal_bytes,
                free_bytes,
                schema: super::schema::version_of(c)?,
                oldest_day,
                newest_day,
                tables,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_rows_and_message_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperboy.db");
        let store = Store::open(&path).unwrap();
        store
            .with(|c| {
                c.execute("INSERT INTO runs (id, day, started_at, status) VALUES (1, '2025-03-28', 'x', 'ok')", [])?;
                c.execute(
                    "INSERT INTO deliveries (run_id, subscriber, day, status, kind, message_id, subject, paper_ids, message, created_at) VALUES (1, 'a@b.org', '2025-03-28', 'sent', 'digest', '<m@x>', 's', '[]', zeroblob(1000), 'x')",
                    [],
                )
            })
            .unwrap();
        let s = store.stats(&path).unwrap();
        let deliveries = s.tables.iter().find(|t| t.table == "deliveries").unwrap();
        assert_eq!((deliveries.rows, deliveries.payload_bytes), (1, Some(1000)));
        assert!(deliveries.disk_bytes >= 1000, "{deliveries:?}");
        assert_eq!(s.oldest_day.as_deref(), Some("2025-03-28"));
        assert_eq!(s.schema, super::super::schema::SCHEMA_VERSION);
        assert!(s.file_bytes + s.wal_bytes > 0);
    }
}
