//! `[store] keep_days`: what is pruned from the store once it is older than that, and what never
//! is. Pruned: the exact bytes of sent digests, alerts and answers; the pages the archive and
//! feed are built from; superseded digests; the triage's decisions. Kept for ever: the delivery
//! rows themselves (so nothing is ever sent twice), the ledger of papers each reader was sent,
//! the runs, the verdicts and the spend.

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::Store;

/// How many rows each kind of pruning touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub digests: usize,
    pub superseded: usize,
    pub triage: usize,
    pub alerts: usize,
    pub answers: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.digests + self.superseded + self.triage + self.alerts + self.answers
    }
}

/// Prunes what belongs to days before `cutoff` (sent messages only: one still pending or failed
/// keeps its bytes, to be sent or looked at).
pub fn prune(conn: &mut Connection, cutoff: NaiveDate) -> rusqlite::Result<Pruned> {
    let day = cutoff.to_string();
    let tx = conn.transaction()?;
    let digests = tx.execute(
        "UPDATE deliveries SET message = x'', page = NULL, page_z = NULL
         WHERE day < ?1 AND status = 'sent' AND (length(message) > 0 OR page IS NOT NULL OR page_z IS NOT NULL)",
        params![day],
    )?;
    tx.execute("DELETE FROM mail_bundles WHERE day < ?1", params![day])?;
    let superseded = tx.execute(
        "DELETE FROM superseded_deliveries WHERE day < ?1",
        params![day],
    )?;
    // By the announcement day of the run that decided (the clock of the decision is not the
    // day it was for).
    let triage: i64 = tx.query_row(
        "SELECT coalesce(sum(decisions), 0) FROM triage_sets
         WHERE run_id IN (SELECT id FROM runs WHERE day < ?1)",
        params![day],
        |r| r.get(0),
    )?;
    tx.execute(
        "DELETE FROM triage_sets WHERE run_id IN (SELECT id FROM runs WHERE day < ?1)",
        params![day],
    )?;
    // Vectors of the papers of those days: a cache no later day reads (profiles stay).
    tx.execute(
        "DELETE FROM embeddings WHERE kind = 'paper' AND created_at < ?1",
        params![day],
    )?;
    let alerts = tx.execute(
        "UPDATE alerts SET message = x'' WHERE status = 'sent' AND created_at < ?1 AND length(message) > 0",
        params![day],
    )?;
    let answers = tx.execute(
        "UPDATE inbound SET reply = NULL WHERE reply_status = 'sent' AND received_at < ?1 AND reply IS NOT NULL",
        params![day],
    )?;
    tx.commit()?;
    Ok(Pruned {
        digests,
        superseded,
        triage: usize::try_from(triage).unwrap_or(0),
        alerts,
        answers,
    })
}

impl Store {
    /// Prunes what is older than `keep_days` days before `today`.
    pub async fn prune(&self, today: NaiveDate, keep_days: u32) -> anyhow::Result<Pruned> {
        let cutoff = today - chrono::Days::new(u64::from(keep_days));
        self.call(move |c| prune(c, cutoff)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_bytes_go_and_the_ledger_stays() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                c.execute_batch(
                    "INSERT INTO deliveries (subscriber, day, status, kind, message_id, subject, paper_ids, message, created_at, page)
                       VALUES ('a@b.org', '2025-01-02', 'sent', 'digest', '<1@x>', 's', '[]', x'0102', '2025-01-02', '{}'),
                              ('a@b.org', '2025-03-28', 'sent', 'digest', '<2@x>', 's', '[]', x'0102', '2025-03-28', '{}'),
                              ('b@b.org', '2025-01-02', 'failed', 'digest', '<3@x>', 's', '[]', x'0102', '2025-01-02', '{}');
                     INSERT INTO sent_papers (subscriber, paper_id, day) VALUES ('a@b.org', '2501.00001', '2025-01-02');",
                )?;
                let pruned = prune(c, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap())?;
                assert_eq!(pruned.digests, 1);
                let kept: Vec<(String, i64)> = c
                    .prepare("SELECT message_id, length(message) FROM deliveries ORDER BY message_id")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(
                    kept,
                    vec![("<1@x>".into(), 0), ("<2@x>".into(), 2), ("<3@x>".into(), 2)],
                    "the row stays (never sent twice); a failed one keeps its bytes"
                );
                let ledger: i64 = c.query_row("SELECT count(*) FROM sent_papers", [], |r| r.get(0))?;
                assert_eq!(ledger, 1);
                assert_eq!(prune(c, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap())?.total(), 0);
                Ok(())
            })
            .unwrap();
    }
}
