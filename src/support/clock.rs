//! The one place that reads the system time, so tests can say what time it is.

use chrono::{DateTime, Utc};

/// The environment variable that sets the clock for tests and dry rehearsals: an RFC 3339 time
/// that "now" starts from (it then advances with real time).
pub const FAKE_NOW_ENV: &str = "PAPERBOY_FAKE_NOW";

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// Starts at `at` when the process started at `started`, and advances with real time.
    Shifted {
        at: DateTime<Utc>,
        started: DateTime<Utc>,
    },
}

impl Clock {
    /// The system clock, unless `PAPERBOY_FAKE_NOW` says otherwise.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var(FAKE_NOW_ENV) {
            Ok(v) if !v.trim().is_empty() => DateTime::parse_from_rfc3339(v.trim())
                .map(|t| Clock::Shifted {
                    at: t.with_timezone(&Utc),
                    started: now_utc(),
                })
                .map_err(|e| format!("{FAKE_NOW_ENV}=`{v}` is not an RFC 3339 time ({e})")),
            _ => Ok(Clock::System),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => now_utc(),
            Clock::Shifted { at, started } => *at + (now_utc() - *started),
        }
    }
}

/// The current time. The only call to `Utc::now` in the crate.
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
}

/// The wait before retry number `attempt` (1 for the first retry): `base`, doubling each time.
pub fn backoff(base: std::time::Duration, attempt: u32) -> std::time::Duration {
    base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
}
