//! The one place that reads the system time, so tests can say what time it is. The process's
//! clock is read from `PAPERBOY_FAKE_NOW` once; every "now" — "today" for a run, the budget's
//! day, the stamps on stored rows — comes from it, so they always agree.

use std::sync::OnceLock;

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
    /// The process's clock — the system clock unless `PAPERBOY_FAKE_NOW` says otherwise — or why
    /// that variable cannot be read.
    pub fn from_env() -> Result<Clock, String> {
        read_env()?;
        Ok(Clock::process())
    }

    /// The process's clock, fixed the first time anything asks for the time. A
    /// `PAPERBOY_FAKE_NOW` that does not parse reads as the system clock here; the doors refuse
    /// it through [`Clock::from_env`].
    pub fn process() -> Clock {
        static PROCESS: OnceLock<Clock> = OnceLock::new();
        *PROCESS.get_or_init(|| read_env().unwrap_or(Clock::System))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => system_now(),
            Clock::Shifted { at, started } => *at + (system_now() - *started),
        }
    }
}

fn read_env() -> Result<Clock, String> {
    match std::env::var(FAKE_NOW_ENV) {
        Ok(v) if !v.trim().is_empty() => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| Clock::Shifted {
                at: t.with_timezone(&Utc),
                started: system_now(),
            })
            .map_err(|e| format!("{FAKE_NOW_ENV}=`{v}` is not an RFC 3339 time ({e})")),
        _ => Ok(Clock::System),
    }
}

/// The current time by the process's clock.
pub fn now_utc() -> DateTime<Utc> {
    Clock::process().now()
}

/// The system time. The only call to `Utc::now` in the crate.
fn system_now() -> DateTime<Utc> {
    Utc::now()
}

/// The wait before retry number `attempt` (1 for the first retry): `base`, doubling each time.
pub fn backoff(base: std::time::Duration, attempt: u32) -> std::time::Duration {
    base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
}
