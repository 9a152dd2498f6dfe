use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::parse::{papers, parse_page, PageError};
use crate::config::PreprintConfig;
use crate::domain::{Category, Paper};
use crate::http::{innermost, retry_after};
use crate::problem::{Kind, Problem};

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
    #[error(
        "{server}'s answer from {url} could not be read (after {attempts} attempts): {source}"
    )]
    Answer {
        server: &'static str,
        url: String,
        attempts: u32,
        #[source]
        source: PageError,
    },
    #[error("{server} stopped listing {category} at {read} of {total} records")]
    Short {
        server: &'static str,
        category: String,
        read: usize,
        total: usize,
    },
}

impl PreprintError {
    pub fn problem(&self) -> Problem {
        Problem::new(Kind::PreprintUnavailable, self.to_string())
    }
}

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
        let http = reqwest::Client::builder().user_agent(user_agent).build()?;
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
        let mut records = Vec::new();
        let mut rejected = Vec::new();
        let mut cursor = 0usize;
        let mut pages = 0;
        loop {
            let url = format!(
                "{base}/details/{}/{from}/{to}/{cursor}?category={subject}",
                source.as_str()
            );
            let (page, bad) = self.get_page(config, server, &url).await?;
            pages += 1;
            rejected.extend(bad);
            let got = page.count;
            records.extend(page.records);
            cursor += got;
            if cursor >= page.total {
                break;
            }
            if got == 0 {
                return Err(PreprintError::Short {
                    server,
                    category: category.to_string(),
                    read: cursor,
                    total: page.total,
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
            let backoff = Duration::from_millis(config.retry_base_ms)
                .saturating_mul(2u32.saturating_pow(attempt - 1));
            let wait = after.unwrap_or(backoff).min(Duration::from_secs(300));
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
        if !status.is_success() {
            return Err(Fail::Status(status.as_u16(), retry_after(&response)));
        }
        response
            .text()
            .await
            .map_err(|e| Fail::Transport(innermost(&e), false))
    }
}

enum Fail {
    Status(u16, Option<Duration>),
    /// The cause, and whether the connection itself was refused or the name did not resolve.
    Transport(String, bool),
}
