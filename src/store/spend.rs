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

/// Reads `count, prompt, cached, completion, cost, unpriced` starting at column `at`.
fn totals_at(r: &rusqlite::Row, at: usize, model: String) -> rusqlite::Result<Totals> {
    Ok(Totals {
        model,
        calls: r.get::<_, i64>(at)? as u64,
        prompt_tokens: r.get::<_, i64>(at + 1)? as u64,
        cached_tokens: r.get::<_, i64>(at + 2)? as u64,
        completion_tokens: r.get::<_, i64>(at + 3)? as u64,
        cost: Money::from_micros(r.get(at + 4)?),
        unpriced_calls: r.get::<_, i64>(at + 5)? as u64,
    })
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
        totals_at(r, 1, r.get(0)?)
    })?;
    rows.collect()
}

/// How to group the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Subscriber,
    Model,
}

/// Totals per group (the group's name in `Totals::model`'s place: `key`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    pub totals: Totals,
}

/// Ledger totals for calls made on days `since..=until` (UTC dates, `YYYY-MM-DD`), grouped.
pub fn report(
    conn: &Connection,
    since: &str,
    until: &str,
    by: GroupBy,
) -> rusqlite::Result<Vec<Group>> {
    let key = match by {
        GroupBy::Day => "substr(at, 1, 10)",
        GroupBy::Subscriber => "coalesce(subscriber, '-')",
        GroupBy::Model => "model",
    };
    let sql = format!(
        "SELECT {key} AS k, count(*), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
                coalesce(sum(cost_micros), 0), sum(cost_micros IS NULL)
         FROM spend WHERE substr(at, 1, 10) BETWEEN ?1 AND ?2 GROUP BY k ORDER BY k"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![since, until], |r| {
        Ok(Group {
            key: r.get(0)?,
            totals: totals_at(r, 1, String::new())?,
        })
    })?;
    rows.collect()
}

/// Totals of everything in `groups`.
pub fn sum(groups: &[Group]) -> Totals {
    let mut t = Totals::default();
    for g in groups {
        t.calls += g.totals.calls;
        t.prompt_tokens += g.totals.prompt_tokens;
        t.cached_tokens += g.totals.cached_tokens;
        t.completion_tokens += g.totals.completion_tokens;
        t.cost += g.totals.cost;
        t.unpriced_calls += g.totals.unpriced_calls;
    }
    t
}

/// Totals of the calls made on behalf of `subscriber` since `since` (a `YYYY-MM-DD` date).
pub fn subscriber_since(
    conn: &Connection,
    subscriber: &str,
    since: &str,
) -> rusqlite::Result<Totals> {
    conn.query_row(
        "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0),
                coalesce(sum(completion_tokens), 0), coalesce(sum(cost_micros), 0), coalesce(sum(cost_micros IS NULL), 0)
         FROM spend WHERE subscriber = ?1 AND substr(at, 1, 10) >= ?2",
        params![subscriber, since],
        |r| totals_at(r, 0, String::new()),
    )
}
