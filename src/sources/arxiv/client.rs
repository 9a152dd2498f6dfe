use std::time::Duration;

use crate::domain::problem::{Kind, Problem};
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::parse::{parse_api, parse_rss, Announcement, FeedError};
use crate::config::ArxivConfig;
use crate::domain::Category;

/// Talks to arXiv within its terms of use: one request at a time, at least `min_interval` apart,
/// a User-Agent naming paperboy, and retries with backoff (honouring `Retry-After`).
pub struct ArxivClient {
    http: reqwest::Client,
    rss_url: String,
    api_url: String,
    min_interval: Duration,
    retry_base: Duration,
    max_attempts: u32,
    /// Held for the whole request, so requests never overlap; remembers when the last one started.
    last_request: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArxivError {
    #[error("arXiv answered HTTP {status}{} for {url} (after {attempts} attempt{})", reason(*status), if *attempts == 1 { "" } else { "s" })]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    /// `reason` is the innermost cause ("Connection refused", "failed to lookup address"), so
    /// the message says it once, without the URL again.
    #[error("could not reach arXiv at {host} ({reason}; {attempts} attempt{s})", s = if *attempts == 1 { "" } else { "s" })]
    Transport {
        host: String,
        attempts: u32,
        reason: String,
        /// Connection refused or the name did not resolve: no use retrying right away.
        unreachable: bool,
    },
    #[error("arXiv sent a malformed feed from {url} (after {attempts} attempts): {source}")]
    Feed {
        url: String,
        attempts: u32,
        #[source]
        source: FeedError,
    },
}

impl ArxivError {
    pub fn problem(&self) -> Problem {
        let kind = match self {
            ArxivError::Status { status, .. } if refused(*status) => Kind::ArxivRefused,
            ArxivError::Status { .. } | ArxivError::Transport { .. } => Kind::ArxivUnreachable,
            ArxivError::Feed {
                source: FeedError::ErrorFeed(_),
                ..
            } => Kind::ArxivErrorFeed,
            ArxivError::Feed { .. } => Kind::ArxivMalformed,
        };
        Problem::new(kind, self.to_string())
    }

    /// Whether trying again soon can help (not for an error feed or an unreachable host).
    fn worth_retrying(&self) -> bool {
        match self {
            ArxivError::Status { status, .. } => !refused(*status),
            ArxivError::Transport { unreachable, .. } => !unreachable,
            ArxivError::Feed {
                source: FeedError::ErrorFeed(_),
                ..
            } => false,
            _ => true,
        }
    }
}

/// An HTTP status that says the request itself is wrong (4xx but a timeout or a rate limit):
/// asking again does not help.
fn refused(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 429)
}

/// ` Not Found` for 404: the status's reason phrase, when it has one.
fn reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn transport(url: &str, attempts: u32, e: &reqwest::Error) -> ArxivError {
    let reason = crate::sources::http::innermost(e);
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string());
    ArxivError::Transport {
        host,
        attempts,
        reason,
        unreachable: e.is_connect(),
    }
}

/// A failed attempt, with how long the server asked us to wait (`Retry-After`), if it did.
struct Failure {
    error: ArxivError,
    after: Option<Duration>,
}

impl ArxivClient {
    pub fn new(config: &ArxivConfig, contact: &str) -> anyhow::Result<ArxivClient> {
        let user_agent = format!(
            "paperboy/{} (daily arXiv digest for a research group; contact: {contact})",
            env!("CARGO_PKG_VERSION")
        );
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()?;
        Ok(ArxivClient {
            http,
            rss_url: config.rss_url.trim_end_matches('/').to_string(),
            api_url: config.api_url.clone(),
            min_interval: Duration::from_millis(config.min_interval_ms),
            retry_base: Duration::from_millis(config.retry_base_ms),
            max_attempts: config.max_attempts.max(1),
            last_request: Mutex::new(None),
        })
    }

    pub fn rss_feed_url(&self, categories: &[Category]) -> String {
        let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
        format!("{}/{}", self.rss_url, joined.join("+"))
    }

    /// The latest announcement from the RSS feed (one request for all categories).
    #[tracing::instrument(skip_all, fields(url))]
    pub async fn latest(&self, categories: &[Category]) -> Result<Announcement, ArxivError> {
        let url = self.rss_feed_url(categories);
        tracing::Span::current().record("url", url.as_str());
        self.get_parsed(&url, parse_rss).await
    }

    /// The papers of a past announcement day, from the query API with a submission-date window.
    #[tracing::instrument(skip_all, fields(%day))]
    pub async fn day(
        &self,
        categories: &[Category],
        day: NaiveDate,
    ) -> Result<Announcement, ArxivError> {
        let (from, to) = submission_window(day);
        let cats: Vec<String> = categories.iter().map(|c| format!("cat:{c}")).collect();
        let query = format!(
            "({}) AND submittedDate:[{} TO {}]",
            cats.join(" OR "),
            from.format("%Y%m%d%H%M"),
            to.format("%Y%m%d%H%M")
        );
        let page_size = 500usize;
        let mut papers = Vec::new();
        let mut rejected = Vec::new();
        let mut start = 0usize;
        loop {
            let url = reqwest::Url::parse_with_params(
                &self.api_url,
                &[
                    ("search_query", query.as_str()),
                    ("start", &start.to_string()),
                    ("max_results", &page_size.to_string()),
                    ("sortBy", "submittedDate"),
                    ("sortOrder", "ascending"),
                ],
            )
            .map_err(|e| ArxivError::Feed {
                url: self.api_url.clone(),
                attempts: 0,
                source: FeedError::Xml(format!("bad api_url: {e}")),
            })?
            .to_string();
            // An empty page before the announced total is arXiv's known hiccup: asked again,
            // then a failure — never a partial day.
            let page = self
                .get_parsed(&url, |body| {
                    let page = parse_api(body, categories)?;
                    if page.entries == 0 && start < page.total_results {
                        return Err(FeedError::EmptyPage {
                            start,
                            total: page.total_results,
                        });
                    }
                    Ok(page)
                })
                .await?;
            let got = page.entries;
            papers.extend(page.papers);
            rejected.extend(page.rejected);
            start += got;
            if got == 0 || start >= page.total_results {
                break;
            }
        }
        Ok(Announcement {
            day,
            papers: crate::domain::merge_duplicates(papers),
            rejected,
        })
    }

    async fn get_parsed<T>(
        &self,
        url: &str,
        parse: impl Fn(&str) -> Result<T, FeedError>,
    ) -> Result<T, ArxivError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Failure { error, after } = match self.get_once(url, attempt).await {
                Ok(body) => match parse(&body) {
                    Ok(v) => return Ok(v),
                    Err(source) => Failure {
                        error: ArxivError::Feed {
                            url: url.to_string(),
                            attempts: attempt,
                            source,
                        },
                        after: None,
                    },
                },
                Err(f) => f,
            };
            if attempt >= self.max_attempts || !error.worth_retrying() {
                return Err(error);
            }
            let backoff = crate::support::clock::backoff(self.retry_base, attempt);
            let wait = after.unwrap_or(backoff).min(Duration::from_secs(300));
            tracing::warn!(%error, attempt, wait_ms = wait.as_millis() as u64, "arXiv request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_once(&self, url: &str, attempt: u32) -> Result<String, Failure> {
        let mut last = self.last_request.lock().await;
        if let Some(at) = *last {
            let next_allowed = at + self.min_interval;
            tokio::time::sleep_until(next_allowed).await;
        }
        *last = Some(Instant::now());
        tracing::debug!(url, attempt, "GET");
        let response = self.http.get(url).send().await.map_err(|e| Failure {
            error: transport(url, attempt, &e),
            after: None,
        })?;
        let status = response.status();
        if !status.is_success() {
            let after = crate::sources::http::retry_after(&response);
            return Err(Failure {
                error: ArxivError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    attempts: attempt,
                },
                after,
            });
        }
        response.text().await.map_err(|e| Failure {
            error: transport(url, attempt, &e),
            after: None,
        })
    }
}

/// The submission window (UTC) whose papers arXiv announces on `day`.
///
/// arXiv's daily cutoff is 14:00 US Eastern on weekdays: the mailing dated Tuesday holds what was
/// submitted from Friday 14:00 to Monday 14:00, the one dated Monday what came Thursday 14:00 to
/// Friday 14:00. Holidays shift this; the window is then a day off at the edges.
pub fn submission_window(
    day: NaiveDate,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let end_day = previous_weekday(day);
    let start_day = previous_weekday(end_day);
    let at_cutoff = |d: NaiveDate| {
        chrono_tz::America::New_York
            .from_local_datetime(&d.and_hms_opt(14, 0, 0).expect("valid time"))
            .earliest()
            .expect("14:00 exists in New York every day")
            .with_timezone(&chrono::Utc)
    };
    (at_cutoff(start_day), at_cutoff(end_day))
}

fn previous_weekday(day: NaiveDate) -> NaiveDate {
    let mut d = day.pred_opt().expect("date in range");
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d = d.pred_opt().expect("date in range");
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_for_a_friday_and_a_monday_mailing() {
        let (from, to) = submission_window(NaiveDate::from_ymd_opt(2025, 3, 28).unwrap());
        assert_eq!(from.to_rfc3339(), "2025-03-26T18:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2025-03-27T18:00:00+00:00");
        let (from, to) = submission_window(NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
        assert_eq!(from.to_rfc3339(), "2025-03-27T18:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2025-03-28T18:00:00+00:00");
        // Across the US DST start (9 March 2025) the cutoff moves from 19:00 to 18:00 UTC.
        let (from, to) = submission_window(NaiveDate::from_ymd_opt(2025, 3, 11).unwrap());
        assert_eq!(from.to_rfc3339(), "2025-03-07T19:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2025-03-10T18:00:00+00:00");
    }
}
