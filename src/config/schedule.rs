//! When the daily run fires. The cron expression is evaluated in the configured time zone for
//! every firing (croner, DST-aware), so the run happens at the right local time on both sides of
//! a daylight-saving change; tokio-cron-scheduler only ever gets a one-shot at that instant.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    pattern: String,
}

impl Schedule {
    pub fn parse(pattern: &str, timezone: &str) -> Result<Schedule, String> {
        let tz: Tz = timezone
            .parse()
            .map_err(|_| format!("`{timezone}` is not an IANA time zone (e.g. \"Europe/Berlin\", \"America/New_York\", \"UTC\")"))?;
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .build()
            .parse(pattern)
            .map_err(|e| format!("`{pattern}` is not a cron expression with seconds, like \"0 30 6 * * Mon-Fri\" ({e})"))?;
        Ok(Schedule {
            cron,
            tz,
            pattern: pattern.to_string(),
        })
    }

    /// The first firing strictly after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// arXiv's announcement day for an instant: the date in New York.
pub fn announcement_date(now: DateTime<Utc>) -> NaiveDate {
    chrono_tz::America::New_York
        .from_utc_datetime(&now.naive_utc())
        .date_naive()
}

/// The announcement days to make sure of at `now`: the `catch_up` weekdays before today and
/// today (if a weekday), oldest first.
pub fn days_to_check(now: DateTime<Utc>, catch_up: u32) -> Vec<NaiveDate> {
    let today = announcement_date(now);
    let weekday = |d: NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let mut days = Vec::new();
    let mut d = today;
    while days.len() < catch_up as usize {
        d = d.pred_opt().expect("date in range");
        if weekday(d) {
            days.push(d);
        }
    }
    days.reverse();
    if weekday(today) {
        days.push(today);
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fires_at_the_same_local_time_across_daylight_saving_changes() {
        let s = Schedule::parse("0 30 6 * * Mon-Fri", "America/New_York").unwrap();
        // Friday 7 March 2025, EST (UTC−5): 06:30 local is 11:30 UTC.
        let fri = s.next_after(utc("2025-03-07T00:00:00Z")).unwrap();
        assert_eq!(fri, utc("2025-03-07T11:30:00Z"));
        // The clocks go forward on Sunday 9 March; Monday 06:30 EDT (UTC−4) is 10:30 UTC.
        let mon = s.next_after(fri).unwrap();
        assert_eq!(mon, utc("2025-03-10T10:30:00Z"));
        // And back on Sunday 2 November.
        let fri = s.next_after(utc("2025-10-31T00:00:00Z")).unwrap();
        assert_eq!(fri, utc("2025-10-31T10:30:00Z"));
        assert_eq!(s.next_after(fri).unwrap(), utc("2025-11-03T11:30:00Z"));
    }

    #[test]
    fn a_time_that_does_not_exist_on_the_change_day_still_fires_once() {
        // 02:30 does not exist in Berlin on 30 March 2025 (02:00 → 03:00).
        let s = Schedule::parse("0 30 2 * * *", "Europe/Berlin").unwrap();
        let first = s.next_after(utc("2025-03-29T12:00:00Z")).unwrap();
        let second = s.next_after(first).unwrap();
        assert!(second > first);
        assert!(
            second - first <= chrono::Duration::hours(25),
            "{first} then {second}"
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_explained() {
        assert!(Schedule::parse("30 6 * * Mon-Fri", "UTC")
            .unwrap_err()
            .contains("with seconds"));
        assert!(Schedule::parse("0 30 6 * * Mon-Fri", "Mars/Olympus")
            .unwrap_err()
            .contains("IANA"));
    }

    #[test]
    fn catch_up_days_are_weekdays_oldest_first() {
        // Monday 31 March 2025, 06:30 New York.
        let days = days_to_check(utc("2025-03-31T10:30:00Z"), 3);
        let s: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            s,
            vec!["2025-03-26", "2025-03-27", "2025-03-28", "2025-03-31"]
        );
        // On a Saturday only the past days.
        let days = days_to_check(utc("2025-03-29T12:00:00Z"), 2);
        assert_eq!(
            days.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            vec!["2025-03-27", "2025-03-28"]
        );
    }
}
