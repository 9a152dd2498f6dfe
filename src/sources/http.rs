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

/// How long the server asked us to wait (`Retry-After`: seconds or an HTTP date), if it did.
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(&value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Why a body could not be read.
pub enum BodyError {
    /// Larger than the limit (in bytes).
    TooLarge(usize),
    /// The connection failed while reading (the innermost cause).
    Transport(String),
}

/// A body of at most `max` bytes (a server cannot fill the memory or the disk through us).
pub async fn body_text(mut response: reqwest::Response, max: usize) -> Result<String, BodyError> {
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(innermost(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
