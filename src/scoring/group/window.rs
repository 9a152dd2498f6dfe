//! The model's context window: every prompt is measured before it is sent, and a call that
//! would not fit is split. Tokens are counted generously (3 bytes a token, where English runs
//! near 4), and what the endpoint refuses as too long lowers the bound for the rest of the run.

use std::sync::atomic::{AtomicU64, Ordering};

/// The longest answer a call is planned for (the output limit of the gpt-4o family).
pub(super) const MAX_ANSWER: u64 = 16_384;

pub(super) struct Window {
    /// Estimated tokens a prompt and its answer may take.
    limit: AtomicU64,
}

/// A prompt's estimated tokens with room for its answer.
pub(super) fn estimate(system: &str, user: &str, answer: u64) -> u64 {
    (system.len() + user.len()) as u64 / 3 + answer.min(MAX_ANSWER) + 64
}

impl Window {
    /// A window of `context_tokens`, less a tenth for the estimate's error.
    pub(super) fn new(context_tokens: u64) -> Window {
        Window {
            limit: AtomicU64::new(context_tokens - context_tokens / 10),
        }
    }

    pub(super) fn limit(&self) -> u64 {
        self.limit.load(Ordering::SeqCst)
    }

    pub(super) fn fits(&self, estimated: u64) -> bool {
        estimated <= self.limit()
    }

    /// The endpoint refused a prompt estimated at `estimated` tokens as too long (its message
    /// `message`): later prompts are kept below what it says its window is, scaled by how far
    /// off the estimate was, or below half the refused size when the message gives no numbers.
    pub(super) fn refused(&self, estimated: u64, message: &str) {
        let scaled = window_and_actual(message)
            .filter(|(max, actual)| actual > max && *max > 0)
            .map(|(max, actual)| (estimated as f64 * max as f64 / actual as f64 * 0.9) as u64)
            .unwrap_or(estimated / 2);
        let new = scaled.min(estimated.saturating_sub(1));
        let old = self.limit.fetch_min(new, Ordering::SeqCst);
        tracing::warn!(
            refused = estimated,
            limit = old.min(new),
            "the model refused a prompt as too long; splitting it, and smaller prompts from now on"
        );
    }
}

/// From OpenAI's message ("This model's maximum context length is 128000 tokens. However, your
/// messages resulted in 199234 tokens…"): the window and the prompt's real length.
fn window_and_actual(message: &str) -> Option<(u64, u64)> {
    let number_after = |marker: &str| -> Option<u64> {
        let rest = &message[message.find(marker)? + marker.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((
        number_after("maximum context length is")?,
        number_after("resulted in")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_lowers_the_bound_by_what_the_endpoint_says() {
        let w = Window::new(128_000);
        assert_eq!(w.limit(), 115_200);
        assert!(w.fits(100_000));
        w.refused(100_000, "This model's maximum context length is 128000 tokens. However, your messages resulted in 160000 tokens. Please reduce the length of the messages.");
        assert_eq!(w.limit(), 72_000);
        assert!(!w.fits(100_000));
        // No numbers: half the refused prompt; the bound never rises again.
        w.refused(60_000, "prompt too long");
        assert_eq!(w.limit(), 30_000);
        w.refused(90_000, "prompt too long");
        assert_eq!(w.limit(), 30_000);
    }
}
