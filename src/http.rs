//! What the HTTP clients of paperboy's sources share: reading a failure as a person would.

use std::time::Duration;

/// The innermost cause of a request failure ("Connection refused", "failed to lookup address"),
/// so a message says it once, without the URL again.
pub fn innermost(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        reason = c.to_string();
        cause = c.source();
    }
    reason
}

/// How long the server asked us to wait (`Retry-After` in seconds), if it did.
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
