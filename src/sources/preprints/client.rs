use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::parse::{papers, parse_page, PageError};
use crate::config::PreprintConfig;
use crate::domain::problem::{Kind, Problem};
use crate::domain::{Category, Paper};
use crate::sources::http::{innermost, retry_after};

/// Reads bioRxiv and medRxiv (one API for both): one request at a time, at most one a second
/// (`min_interval_ms`), retries with backoff honouring `Retry-After`.
pub struct PreprintClient {
    http: reqwest::Client,
    last_request: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreprintError {
    #[error("{server} answered HTTP {status} for {url} ({attempts} attempt{s})", s = if *attempts == 1 { "" } else { "s" })]
    Status {
        server: &'static str,
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("could not reach {server} at {url} ({reason}; {attempts} attempt{s})", s = if *attempts == 1 { "" } else { "s" })]
    Transport {
        server: &'static str,
        url: String,
        reason: String,
        attempts: u32,
    },
    #[error("{server}'s answer from {url} could not be read ({attempts} attempt{s}): {source}", s = if *attempts == 1 { "" } else { "s" })]
    Answer {
        server: &'static str,
        url: String,
        attempts: u32,
        #[source]
        source: PageError,
    },
    /// An answer paperboy will not take: a redirect, a body past the size limit.
    #[error("{server} at {url}: {reason}")]
    Refused {
        server: &'static str,
        url: String,
        reason: String,
    },
    #[error("{server} stopped listing {category} at {read} of the {total} records it announced")]
    Short {
        server: &'static str,
        category: String,
        read: usize,
        total: usize,
    },
    #[error("{server} kept listing {category} without end: a page added nothing to the {distinct} already read (it announced {total})")]
    Stalled {
        server: &'static str,
        category: String,
        distinct: usize,
        total: usize,
    },
    #[error("{server} listed {category} past {pages} pages ({total} records announced); paperboy stops there and leaves the window for the next run")]
    TooManyPages {
        server: &'static str,
        category: String,
        pages: usize,
        total: usize,
    },
}

impl PreprintError {
    pub fn problem(&self) -> Problem {
        Problem::new(Kind::PreprintUnavailable, self.to_string())
    }
}

/// Pages read for one window at most (bioRxiv pages hold 100 records; a month of its busiest
/// subject is a few dozen).
const MAX_PAGES: usize = 200;

/// Largest answer read (a page of 100 records is about 300 KB).
const MAX_BODY: usize = 32_000_000;

/// Longest wait a `Retry-After` gets; past it the attempt counts as failed sooner.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What one server and subject held in a window.
#[derive(Debug)]
pub struct Window {
    pub papers: Vec<Paper>,
    /// Records skipped as unreadable, with why.
    pub rejected: Vec<String>,
    /// Requests it took.
    pub pages: usize,
}

impl PreprintClient {
    pub fn new(contact: &str) -> anyhow::Result<PreprintClient> {
        let user_agent = format!(
            "paperboy/{} (daily preprint digest for a research group; contact: {contact})",
            env!("CARGO_PKG_VERSION")
        );
        // No redirects: api_url names the API; a redirect is reported with where it points.
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(PreprintClient {
            http,
            last_request: Mutex::new(None),
        })
    }

    /// Every record `category` got from `from` to `to` (calendar days, both included), paged
    /// by the answers' own `count` and `total`, as one paper per DOI.
    pub async fn read(
        &self,
        config: &PreprintConfig,
        category: &Category,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Window, PreprintError> {
        let source = category.source();
        let server = source.name();
        let base = config.api_url.trim_end_matches('/');
        let subject = category.name().replace(' ', "_");
        let mut records: Vec<super::parse::Record> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut rejected = Vec::new();
        let mut cursor = 0usize;
        let mut pages = 0;
        loop {
            let mut url = reqwest::Url::parse(&format!(
                "{base}/details/{}/{from}/{to}/{cursor}",
                source.as_str()
            ))
            .map_err(|e| PreprintError::Refused {
                server,
                url: base.to_string(),
                reason: format!("api_url is not a URL ({e})"),
            })?;
            url.query_pairs_mut().append_pair("category", &subject);
            let url = url.to_string();
            let (page, bad) = self.get_page(config, server, &url).await?;
            pages += 1;
            rejected.extend(bad);
            let got = page.count;
            let fresh = page
                .records
                .iter()
                .filter(|r| seen.insert((r.doi.clone(), r.version.to_string())))
                .count();
            records.extend(page.records);
            cursor += got;
            if cursor >= page.total {
                break;
            }
            // A page that adds nothing (none, or only records already read) would page forever.
            let (category, total) = (category.to_string(), page.total);
            if got == 0 {
                let read = cursor;
                return Err(PreprintError::Short {
                    server,
                    category,
                    read,
                    total,
                });
            }
            if fresh == 0 {
                let distinct = seen.len();
                return Err(PreprintError::Stalled {
                    server,
                    category,
                    distinct,
                    total,
                });
            }
            if pages >= MAX_PAGES {
                return Err(PreprintError::TooManyPages {
                    server,
                    category,
                    pages,
                    total,
                });
            }
        }
        let (papers, more) = papers(source, records);
        rejected.extend(more);
        Ok(Window {
            papers,
            rejected,
            pages,
        })
    }

    async fn get_page(
        &self,
        config: &PreprintConfig,
        server: &'static str,
        url: &str,
    ) -> Result<(super::Page, Vec<String>), PreprintError> {
        let max_attempts = config.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut refused = false;
            let (error, after) = match self.get_once(config, url).await {
                Ok(body) => match parse_page(&body) {
                    Ok(page) => return Ok(page),
                    Err(source) => (
                        PreprintError::Answer {
                            server,
                            url: url.to_string(),
                            attempts: attempt,
                            source,
                        },
                        None,
                    ),
                },
                Err(Fail::Status(status, after)) => (
                    PreprintError::Status {
                        server,
                        url: url.to_string(),
                        status,
                        attempts: attempt,
                    },
                    after,
                ),
                Err(Fail::Refused(reason)) => {
                    let url = url.to_string();
                    return Err(PreprintError::Refused {
                        server,
                        url,
                        reason,
                    });
                }
                Err(Fail::Transport(reason, connect)) => (
                    {
                        refused = connect;
                        PreprintError::Transport {
                            server,
                            url: url.to_string(),
                            reason,
                            attempts: attempt,
                        }
                    },
                    None,
                ),
            };
            // A 4xx (but 408/429) or a host that refuses the connection will not mend in
            // seconds: the next run tries again.
            let hopeless = match &error {
                PreprintError::Status { status, .. } => {
                    (400..500).contains(status) && *status != 408 && *status != 429
                }
                _ => refused,
            };
            if attempt >= max_attempts || hopeless {
                return Err(error);
            }
            let backoff = crate::support::clock::backoff(
                Duration::from_millis(config.retry_base_ms),
                attempt,
            );
            let wait = after.unwrap_or(backoff).min(MAX_WAIT);
            tracing::warn!(%error, attempt, wait_ms = wait.as_millis() as u64, "{server} request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_once(&self, config: &PreprintConfig, url: &str) -> Result<String, Fail> {
        let mut last = self.last_request.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + Duration::from_millis(config.min_interval_ms)).await;
        }
        *last = Some(Instant::now());
        tracing::debug!(url, "GET");
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(config.timeout_secs))
            .send()
            .await
            .map_err(|e| Fail::Transport(innermost(&e), e.is_connect()))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>();
            return Err(Fail::Transport(
                format!(
                    "HTTP {} redirects to {to}; set api_url to the API itself",
                    status.as_u16()
                ),
                true,
            ));
        }
        if !status.is_success() {
            return Err(Fail::Status(status.as_u16(), retry_after(&response)));
        }
        crate::sources::http::body_text(response, MAX_BODY)
            .await
            .map_err(|e| match e {
                crate::sources::http::BodyError::TooLarge(limit) => Fail::Refused(format!(
                    "the answer is larger than {} MB",
                    limit / 1_000_000
                )),
                crate::sources::http::BodyError::Transport(reason) => {
                    Fail::Transport(reason, false)
                }
            })
    }
}

enum Fail {
    Status(u16, Option<Duration>),
    /// The cause, and whether the connection itself was refused or the name did not resolve.
    Transport(String, bool),
    /// Not retried: the answer will not change by asking again.
    Refused(String),
}
