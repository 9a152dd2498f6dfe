//! A day's sent digests, compressed together once they are sent (`mail_bundles`): they share
//! their template and many papers, so a bundle is a fraction of the messages deflated one by
//! one. Each delivery's `message` then holds a reference into its bundle (see `packed`).

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::now_utc;

/// A stored `message` column as the bytes it stands for.
pub(super) fn message_bytes(conn: &Connection, stored: &[u8]) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::OptionalExtension as _;
    let broken = |e: std::io::Error| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Blob, Box::new(e))
    };
    let Some(at) = super::packed::bundled(stored) else {
        return super::packed::unpack(stored).map_err(broken);
    };
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT bundle FROM mail_bundles WHERE id = ?1",
            [at.bundle],
            |r| r.get(0),
        )
        .optional()?;
    let Some(blob) = blob else {
        // Its day was pruned: nothing to give back.
        return Ok(Vec::new());
    };
    let (start, end) = (at.offset as usize, at.offset as usize + at.len as usize);
    let all = super::packed::unbundle(&blob, end).map_err(broken)?;
    all.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
        broken(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a message reference points past its bundle",
        ))
    })
}

/// Compresses the sent digests of `day` that are still stored one by one into one bundle, and
/// points each at its place in it. Returns how many were bundled.
pub fn bundle_day(conn: &mut Connection, day: NaiveDate) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let rows: Vec<String> = tx
        .prepare(
            "SELECT subscriber FROM deliveries
             WHERE day = ?1 AND status = 'sent' AND substr(message, 1, 4) = CAST('PBZ1' AS BLOB)
             ORDER BY subscriber",
        )?
        .query_map([day.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if rows.len() < 2 {
        return Ok(0);
    }
    let broken = |e: std::io::Error| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, Box::new(e))
    };
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS moving AS SELECT * FROM main.deliveries LIMIT 0",
    )?;
    // A bundle at a time: only its messages are read and inflated in memory.
    for chunk in rows.chunks(super::packed::BUNDLE_SIZE) {
        let mut group = Vec::with_capacity(chunk.len());
        for subscriber in chunk {
            let stored: Vec<u8> = tx.query_row(
                "SELECT message FROM deliveries WHERE subscriber = ?1 AND day = ?2",
                params![subscriber, day.to_string()],
                |r| r.get(0),
            )?;
            group.push(super::packed::unpack(&stored).map_err(broken)?);
        }
        let blob = super::packed::bundle(&group).map_err(broken)?;
        tx.execute(
            "INSERT INTO mail_bundles (day, bundle, created_at) VALUES (?1, ?2, ?3)",
            params![day.to_string(), blob, now_utc()],
        )?;
        let bundle = tx.last_insert_rowid();
        let mut offset = 0u32;
        for (subscriber, m) in chunk.iter().zip(&group) {
            let len = u32::try_from(m.len()).unwrap_or(u32::MAX);
            let at = super::packed::InBundle {
                bundle,
                offset,
                len,
            };
            // Moved to the table's end with its small reference rather than updated in place:
            // an update would leave the day's pages half empty for good; a delete lets SQLite
            // merge them.
            tx.execute(
                "INSERT INTO temp.moving SELECT * FROM deliveries WHERE subscriber = ?1 AND day = ?2",
                params![subscriber, day.to_string()],
            )?;
            tx.execute(
                "DELETE FROM deliveries WHERE subscriber = ?1 AND day = ?2",
                params![subscriber, day.to_string()],
            )?;
            tx.execute(
                "UPDATE temp.moving SET message = ?1",
                params![super::packed::reference(at)],
            )?;
            tx.execute_batch(
                "INSERT INTO deliveries SELECT * FROM temp.moving; DELETE FROM temp.moving;",
            )?;
            offset = offset.saturating_add(len);
        }
    }
    tx.commit()?;
    Ok(rows.len())
}

impl super::Store {
    /// Bundles the sent digests of `day` (see [`bundle_day`]).
    ///
    /// Run on the calling thread (a post-run step, a few seconds for 1,000 digests): the memory
    /// the run freed there is reused, where a pool thread would take fresh memory for it.
    pub async fn bundle_day(&self, day: NaiveDate) -> anyhow::Result<usize> {
        let bundle = || self.with(|c| bundle_day(c, day));
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(bundle),
            _ => bundle(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::deliveries::create_pending;
    use crate::store::Store;

    #[test]
    fn a_days_sent_digests_are_bundled_and_read_back_exactly() {
        let store = Store::open_in_memory().unwrap();
        let day = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        let message = |i: usize| {
            format!(
                "Message-ID: <{i}@x>\r\n\r\n{}reader {i}\r\n",
                "<td>MoE quantization</td>\r\n".repeat(300)
            )
            .into_bytes()
        };
        store
            .with(|c| {
                for i in 0..140 {
                    create_pending(
                        c,
                        &format!("r{i:03}@lab.org"),
                        day,
                        1,
                        "digest",
                        &format!("<{i}@x>"),
                        "s",
                        &[],
                        &message(i),
                        Some("{}"),
                    )?;
                }
                c.execute(
                    "UPDATE deliveries SET status = 'sent' WHERE subscriber <> 'r139@lab.org'",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let bundled = store.with(|c| bundle_day(c, day)).unwrap();
        assert_eq!(bundled, 139, "the one not sent yet keeps its own bytes");
        let bundles: i64 = store
            .with(|c| c.query_row("SELECT count(*) FROM mail_bundles", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(bundles, 2, "128 to a bundle");
        for i in [0, 77, 127, 128, 138, 139] {
            let d = store
                .with(|c| super::super::deliveries::get(c, &format!("r{i:03}@lab.org"), day))
                .unwrap()
                .unwrap();
            assert_eq!(d.message, message(i), "reader {i}");
            // The row moved with everything else it holds.
            assert_eq!(
                (d.subject.as_str(), d.message_id.clone()),
                ("s", format!("<{i}@x>"))
            );
        }
        let rows: i64 = store
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM deliveries WHERE page_z IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(rows, 140);
        assert_eq!(store.with(|c| bundle_day(c, day)).unwrap(), 0, "done once");
    }
}
