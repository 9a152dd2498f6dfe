//! Spending limits. Before each model call the spend so far, plus what calls in flight may still
//! cost, plus this call's worst case must stay within the daily and monthly limits; otherwise
//! scoring stops for the run. The check and the reservation happen under one lock, so calls in
//! parallel cannot together overshoot.

use chrono::{DateTime, Datelike, Utc};

use crate::config::BudgetConfig;
use crate::domain::Money;
use crate::store::Store;

pub struct Budget {
    daily: Option<Money>,
    monthly: Option<Money>,
    /// Worst-case cost of the calls in flight.
    reserved: tokio::sync::Mutex<Money>,
}

impl Budget {
    pub fn new(cfg: &BudgetConfig) -> Budget {
        let micros = |usd: f64| Money::from_micros((usd * 1_000_000.0).round() as i64);
        Budget {
            daily: cfg.daily_usd.map(micros),
            monthly: cfg.monthly_usd.map(micros),
            reserved: tokio::sync::Mutex::new(Money::ZERO),
        }
    }

    pub fn unlimited() -> Budget {
        Budget::new(&BudgetConfig::default())
    }

    pub fn is_limited(&self) -> bool {
        self.daily.is_some() || self.monthly.is_some()
    }

    /// Reserves `worst` for a call about to be made, or says which limit it would cross.
    /// Release the reservation with [`Budget::release`] once the call's spend is recorded.
    pub async fn reserve(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        worst: Money,
    ) -> anyhow::Result<Result<(), String>> {
        if !self.is_limited() {
            return Ok(Ok(()));
        }
        let mut reserved = self.reserved.lock().await;
        let day = now.date_naive();
        let month = day.with_day(1).unwrap_or(day);
        let (today, this_month) = store.spent_day_and_month(day, month).await?;
        for (limit, spent, what, advice) in [
            (
                self.daily,
                today,
                "daily",
                "raise [budget] daily_usd or wait for tomorrow",
            ),
            (
                self.monthly,
                this_month,
                "monthly",
                "raise [budget] monthly_usd or wait for next month",
            ),
        ] {
            if let Some(limit) = limit {
                let spent = Money::from_micros(spent);
                if spent + *reserved + worst > limit {
                    return Ok(Err(format!(
                        "the {what} budget of {limit} is reached ({spent} spent; the next call could cost up to {worst}); scoring stopped — {advice}"
                    )));
                }
            }
        }
        *reserved += worst;
        Ok(Ok(()))
    }

    pub async fn release(&self, worst: Money) {
        if self.is_limited() {
            let mut reserved = self.reserved.lock().await;
            *reserved = Money::from_micros((reserved.micros() - worst.micros()).max(0));
        }
    }
}
