//! The one place that reads the system time, so tests can say what time it is.

use chrono::{DateTime, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => now_utc(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// The current time. The only call to `Utc::now` in the crate.
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
}
