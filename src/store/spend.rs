use rusqlite::{params, Connection};

use super::now_utc;
use crate::domain::{Money, SubscriberEmail};

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
    /// Ties together the rows of one model call that served several readers.
    pub call_id: Option<String>,
    /// What the call was for: `triage`, `embedding`, `verdict`, `tldr`, `reply`, `check`.
    pub stage: Option<Stage>,
}

impl SpendRow {
    /// The rows of one call that served several readers: tokens and cost split in proportion to
    /// `shares` (subscriber, profile hash, weight), so the rows add up exactly to the call.
    pub fn split(self, shares: &[(String, String, u64)]) -> Vec<SpendRow> {
        let weights: Vec<u64> = shares.iter().map(|s| s.2.max(1)).collect();
        let prompt = apportion(self.prompt_tokens, &weights);
        let cached = apportion(self.cached_tokens, &weights);
        let completion = apportion(self.completion_tokens, &weights);
        let papers = apportion(self.papers as u64, &weights);
        let cost = self
            .cost
            .map(|c| apportion(c.micros().max(0) as u64, &weights));
        shares
            .iter()
            .enumerate()
            .map(|(i, (subscriber, hash, _))| SpendRow {
                subscriber: Some(subscriber.clone()),
                profile_hash: Some(hash.clone()),
                papers: papers[i] as usize,
                prompt_tokens: prompt[i],
                cached_tokens: cached[i],
                completion_tokens: completion[i],
                cost: cost.as_ref().map(|c| Money::from_micros(c[i] as i64)),
                ..self.clone()
            })
            .collect()
    }
}

/// Splits `total` in proportion to `weights` (largest remainder), so the parts add up to it.
pub fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| w as u128).sum();
    if sum == 0 {
        return weights.iter().map(|_| 0).collect();
    }
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|&w| (total as u128 * w as u128 / sum) as u64)
        .collect();
    let mut rest = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(total as u128 * weights[i] as u128 % sum));
    for i in order {
        if rest == 0 {
            break;
        }
        parts[i] += 1;
        rest -= 1;
    }
    parts
}

/// What a model call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The title triage of a run.
    Triage,
    /// Full verdicts of a run.
    Verdict,
    /// The embedding prefilter: papers' and profiles' vectors.
    Embedding,
    /// A paper's TL;DR, once per language.
    Tldr,
    /// Reading a free-text reply.
    Reply,
    /// Summing up an imported library as topics.
    Library,
    /// `paperboy check` asking the model whether it answers.
    Check,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Triage => "triage",
            Stage::Verdict => "verdict",
            Stage::Embedding => "embedding",
            Stage::Tldr => "tldr",
            Stage::Reply => "reply",
            Stage::Library => "library",
            Stage::Check => "check",
        }
    }
}

/// Spend recorded since `since` (a day, `YYYY-MM-DD`, UTC), in micro-dollars; only `stage`'s
/// when given.
pub fn spent_since(
    conn: &Connection,
    since: chrono::NaiveDate,
    stage: Option<Stage>,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(sum(cost_micros), 0) FROM spend
         WHERE substr(at, 1, 10) >= ?1 AND (?2 IS NULL OR stage = ?2)",
        params![since.to_string(), stage.map(Stage::as_str)],
        |r| r.get(0),
    )
}

/// Spend recorded on `day` (UTC) for `stage`: (distinct calls made for `subscriber`, micro-dollars
/// for everyone).
pub fn stage_on_day(
    conn: &Connection,
    stage: Stage,
    subscriber: &str,
    day: chrono::NaiveDate,
) -> rusqlite::Result<(i64, i64)> {
    let calls: i64 = conn.query_row(
        "SELECT count(DISTINCT coalesce(call_id, 'row' || id)) FROM spend WHERE stage = ?1 AND subscriber = ?2 AND substr(at, 1, 10) = ?3",
        params![stage.as_str(), subscriber, day.to_string()],
        |r| r.get(0),
    )?;
    let spent: i64 = conn.query_row(
        "SELECT coalesce(sum(cost_micros), 0) FROM spend WHERE stage = ?1 AND substr(at, 1, 10) = ?2",
        params![stage.as_str(), day.to_string()],
        |r| r.get(0),
    )?;
    Ok((calls, spent))
}

pub fn record(conn: &Connection, row: &SpendRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO spend (at, run_id, subscriber, profile_hash, model, papers, prompt_tokens, cached_tokens, completion_tokens, cost_micros, call_id, stage)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
            row.cost.map(Money::micros),
            row.call_id,
            row.stage.map(Stage::as_str)
        ],
    )?;
    Ok(())
}

/// Token and cost totals for one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Totals per model of `subscriber`'s share of the calls a run made.
pub fn run_totals(
    conn: &Connection,
    run_id: i64,
    subscriber: &str,
) -> rusqlite::Result<Vec<Totals>> {
    let mut stmt = conn.prepare(
        "SELECT model, count(DISTINCT coalesce(call_id, 'row' || id)), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
                coalesce(sum(cost_micros), 0), sum(cost_micros IS NULL)
         FROM spend WHERE run_id = ?1 AND subscriber = ?2 GROUP BY model ORDER BY model",
    )?;
    let rows = stmt.query_map(params![run_id, subscriber], |r| totals_at(r, 1, r.get(0)?))?;
    rows.collect()
}

/// Totals per model of the calls `subscriber`'s share of which was spent in the runs of
/// announcement days `after < day <= until`: a weekly digest's week.
pub fn days_totals(
    conn: &Connection,
    subscriber: &str,
    after: &str,
    until: &str,
) -> rusqlite::Result<Vec<Totals>> {
    let mut stmt = conn.prepare(
        "SELECT model, count(DISTINCT coalesce(call_id, 'row' || id)), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
                coalesce(sum(cost_micros), 0), sum(cost_micros IS NULL)
         FROM spend WHERE subscriber = ?1
           AND run_id IN (SELECT id FROM runs WHERE day > ?2 AND day <= ?3 AND dry_run = 0)
         GROUP BY model ORDER BY model",
    )?;
    let rows = stmt.query_map(params![subscriber, after, until], |r| {
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
        "SELECT {key} AS k, count(DISTINCT coalesce(call_id, 'row' || id)), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens),
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
        "SELECT count(DISTINCT coalesce(call_id, 'row' || id)), coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0),
                coalesce(sum(completion_tokens), 0), coalesce(sum(cost_micros), 0), coalesce(sum(cost_micros IS NULL), 0)
         FROM spend WHERE subscriber = ?1 AND substr(at, 1, 10) >= ?2",
        params![subscriber, since],
        |r| totals_at(r, 0, String::new()),
    )
}

/// The ledger as typed methods.
impl super::Store {
    /// Records one model call's row.
    pub async fn record_spend(&self, row: SpendRow) -> anyhow::Result<()> {
        self.call(move |c| record(c, &row)).await
    }

    /// Spent today and this month (from `day` and `month_start`), in micro-dollars.
    pub async fn spent_day_and_month(
        &self,
        day: chrono::NaiveDate,
        month_start: chrono::NaiveDate,
    ) -> anyhow::Result<(i64, i64)> {
        self.call(move |c| {
            Ok((
                spent_since(c, day, None)?,
                spent_since(c, month_start, None)?,
            ))
        })
        .await
    }

    /// `stage`'s calls for `subscriber` on `day`, and its spend for everyone that day.
    pub async fn stage_on_day(
        &self,
        stage: Stage,
        subscriber: &SubscriberEmail,
        day: chrono::NaiveDate,
    ) -> anyhow::Result<(i64, i64)> {
        let s = subscriber.to_string();
        self.call(move |c| stage_on_day(c, stage, &s, day)).await
    }

    /// A run's totals for `subscriber`, by model.
    pub async fn run_totals(
        &self,
        run_id: i64,
        subscriber: &SubscriberEmail,
    ) -> anyhow::Result<Vec<Totals>> {
        let s = subscriber.to_string();
        self.call(move |c| run_totals(c, run_id, &s)).await
    }

    /// Per model, what `subscriber`'s share of the runs for announcement days after `after`
    /// up to `until` cost: a weekly digest's usage.
    pub async fn days_totals(
        &self,
        subscriber: &SubscriberEmail,
        after: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> anyhow::Result<Vec<Totals>> {
        let (s, a, u) = (subscriber.to_string(), after.to_string(), until.to_string());
        self.call(move |c| days_totals(c, &s, &a, &u)).await
    }

    /// Ledger totals for calls made on days `since..=until` (UTC dates), grouped.
    pub fn spend_report_now(
        &self,
        since: chrono::NaiveDate,
        until: chrono::NaiveDate,
        by: GroupBy,
    ) -> anyhow::Result<Vec<Group>> {
        let (s, u) = (since.to_string(), until.to_string());
        self.with(|c| report(c, &s, &u, by))
    }

    /// Totals of the calls made on behalf of `subscriber` since `since` (a `YYYY-MM-DD` date).
    pub fn spent_by_since_now(
        &self,
        subscriber: &SubscriberEmail,
        since: &str,
    ) -> anyhow::Result<Totals> {
        self.with(|c| subscriber_since(c, subscriber.as_str(), since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_call_splits_into_rows_that_add_up() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(0, &[2, 5]), vec![0, 0]);
        assert_eq!(apportion(7, &[0, 0]), vec![0, 0]);
        let row = SpendRow {
            run_id: Some(1),
            subscriber: None,
            profile_hash: None,
            model: "gpt-4o".into(),
            papers: 9,
            prompt_tokens: 10_001,
            cached_tokens: 4_096,
            completion_tokens: 999,
            cost: Some(Money::from_micros(33_333)),
            call_id: Some("c1".into()),
            stage: Some(Stage::Verdict),
        };
        let shares = [
            ("a@x.org".to_string(), "p1".to_string(), 5),
            ("b@x.org".to_string(), "p2".to_string(), 3),
            ("c@x.org".to_string(), "p2".to_string(), 1),
        ];
        let rows = row.clone().split(&shares);
        assert_eq!(rows.len(), 3);
        let sum = |f: fn(&SpendRow) -> u64| rows.iter().map(f).sum::<u64>();
        assert_eq!(sum(|r| r.prompt_tokens), 10_001);
        assert_eq!(sum(|r| r.cached_tokens), 4_096);
        assert_eq!(sum(|r| r.completion_tokens), 999);
        assert_eq!(sum(|r| r.papers as u64), 9);
        assert_eq!(sum(|r| r.cost.unwrap().micros() as u64), 33_333);
        assert!(rows[0].prompt_tokens > rows[1].prompt_tokens);
        assert!(rows.iter().all(|r| r.call_id.as_deref() == Some("c1")));
        let unknown = SpendRow { cost: None, ..row }.split(&shares);
        assert!(
            unknown.iter().all(|r| r.cost.is_none()),
            "an unknown cost stays unknown"
        );
    }
}
