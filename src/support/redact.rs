//! The one redaction of secret values: every secret paperboy reads (model and embedding keys,
//! SMTP and IMAP passwords) is registered here as it is read, and text from outside passes
//! through [`redact`] before it is logged, stored or sent — an endpoint that echoes the key in
//! its error says `[redacted]` in the log, `runs show`, `status` and the admin's alert.

use std::borrow::Cow;
use std::sync::RwLock;

/// Values shorter than this are not secrets worth hiding (and would blank ordinary words).
const SHORTEST: usize = 6;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Remembers `value` as a secret for the rest of the process.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < SHORTEST {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == value) {
        all.push(value.to_string());
        // Longest first, so a secret holding another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_secret_never_passes() {
        register("sk-live-REDACTME-0123456789");
        register("abc");
        assert_eq!(
            redact("401: invalid key sk-live-REDACTME-0123456789 (abc)"),
            "401: invalid key [redacted] (abc)"
        );
        assert!(matches!(redact("nothing secret"), Cow::Borrowed(_)));
    }
}
