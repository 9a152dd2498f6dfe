//! The alert channel that does not need the mail server: a plain POST to an incoming webhook
//! (`[admin] webhook`). Tried a few times, never queued behind the mail it may be about.

use std::time::Duration;

use crate::config::WebhookFormat;

/// Where alerts are posted, and how.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    format: WebhookFormat,
    http: reqwest::Client,
    attempts: u32,
    retry_base: Duration,
}

impl Webhook {
    pub fn new(url: &str, format: WebhookFormat) -> anyhow::Result<Webhook> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION"), " (alerts)"))
            .timeout(Duration::from_secs(10))
            // A redirect would re-post the alert to another host: it is an answer, not a hop.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Webhook {
            url: url.trim().to_string(),
            format,
            http,
            attempts: 3,
            retry_base: Duration::from_millis(500),
        })
    }

    /// The address, for messages (its path may hold a token: only the host is shown).
    pub fn host(&self) -> String {
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "the webhook".into())
    }

    /// Posts one alert. A 4xx answer is the configuration's fault and is not tried again; a
    /// 5xx, a timeout or a refused connection is, twice, with backoff.
    pub async fn post(&self, subject: &str, body: &str) -> Result<(), String> {
        let (subject, body) = (
            crate::support::redact::redact(subject),
            crate::support::redact::redact(body),
        );
        let (subject, body) = (subject.as_ref(), body.as_ref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = match self.format {
                WebhookFormat::Json => self
                    .http
                    .post(&self.url)
                    .json(&serde_json::json!({"text": format!("{subject}\n\n{body}")})),
                WebhookFormat::Text => self
                    .http
                    .post(&self.url)
                    .header("Title", header_safe(subject))
                    .header("Content-Type", "text/plain; charset=utf-8")
                    .body(body.to_string()),
            };
            let (error, again) = match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let permanent = status.is_client_error() && status.as_u16() != 429;
                    (
                        format!(
                            "the webhook at {} answered HTTP {}{}",
                            self.host(),
                            status.as_u16(),
                            status
                                .canonical_reason()
                                .map(|r| format!(" {r}"))
                                .unwrap_or_default()
                        ) + if permanent {
                            ": check [admin] webhook"
                        } else {
                            ""
                        },
                        !permanent,
                    )
                }
                Err(e) => (
                    format!(
                        "could not reach the webhook at {}: {}",
                        self.host(),
                        crate::sources::http::innermost(&e)
                    ),
                    true,
                ),
            };
            if !again || attempt >= self.attempts {
                return Err(error);
            }
            tokio::time::sleep(self.retry_base * 2u32.pow(attempt - 1)).await;
        }
    }
}

/// A header value HTTP can carry: printable ASCII (subjects are; anything else becomes `?`).
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .collect()
}
