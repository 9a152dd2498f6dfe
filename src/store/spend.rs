use rusqlite::{params, Connection};

use super::now_utc;
use crate::domain::Money;

/// One model call, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    pub run_id: Option<i64>,
    pub subscriber: Option<String>,
    pub profile_hash: Option<String>,
    pub model: String,
    pub papers: usize,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// `None` when the model's price is unknown: shown as unknown, never as $0.
    pub cost: Option<Money>,
}

pub fn record(conn: &Connection, row: &SpendRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO spend (at, run_id, subscriber, profile_hash, model, papers, prompt_tokens, cached_tokens, completion_tokens, cost_micros)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            now_utc(),
            row.run_id,
            row.subscriber,
            row.profile_hash,
            row.model,
            row.papers as i64,
            row.prompt_tokens as i64,
            row.cached_tokens as i64,
            row.completion_tokens as i64,
            row.cost.map(Money::micros)
        ],
    )?;
    Ok(())
}

/// Token and cost totals for one model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub model: String,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Sum of the known costs.
    pub cost: Money,
    /// Calls whose cost is unknown (no price for the model).
    pub unpriced_calls: u64,
}

/// Totals per model of the calls a run made for the profile of `subscriber`.
pub fn run_totals(
    conn: &Connection,
    run_id: i64,
    profile_hash: &str,
) -> rusqlite::Result<Vec<Totals>> {
    let mut stmt = conn.prepare(
        "SELECT model, count(*), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
                coalesce(sum(cost_micros), 0), sum(cost_micros IS NULL)
         FROM spend WHERE run_id = ?1 AND profile_hash = ?2 GROUP BY model ORDER BY model",
    )?;
    let rows = stmt.query_map(params![run_id, profile_hash], |r| {
        Ok(Totals {
            model: r.get(0)?,
            calls: r.get::<_, i64>(1)? as u64,
            prompt_tokens: r.get::<_, i64>(2)? as u64,
            cached_tokens: r.get::<_, i64>(3)? as u64,
            completion_tokens: r.get::<_, i64>(4)? as u64,
            cost: Money::from_micros(r.get(5)?),
            unpriced_calls: r.get::<_, i64>(6)? as u64,
        })
    })?;
    rows.collect()
}
