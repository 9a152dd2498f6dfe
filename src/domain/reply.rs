//! The addresses a reader replies to: `digest+TOKEN@…` for commands,
//! `digest+unsub-TOKEN@…` for unsubscribing, and `digest+click-DAY-MAC@…` for a digest's
//! one-click links. The tokens are the authority, not the sender.

use chrono::NaiveDate;
use lettre::Address;
use sha2::{Digest as _, Sha256};

/// Days a digest's one-click links ("more like this") work after the digest's day. A digest
/// forwarded to someone else carries its links; they stop steering the reader after this.
pub const CLICK_DAYS: i64 = 30;

/// A reader's two capabilities: the reply token (their commands) and the unsubscribe token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTokens {
    pub reply: String,
    pub unsubscribe: String,
}

/// A subscriber's addresses: replies (`digest+TOKEN@…`), unsubscribing (`digest+unsub-TOKEN@…`)
/// and, per digest, its one-click links ([`ReplyAddresses::click`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyAddresses {
    pub reply_to: Address,
    pub unsubscribe: Address,
    base: Address,
    reply_token: String,
}

impl ReplyAddresses {
    pub fn new(base: &Address, tokens: &ReplyTokens) -> ReplyAddresses {
        ReplyAddresses {
            reply_to: tagged(base, &tokens.reply),
            unsubscribe: tagged(base, &format!("unsub-{}", tokens.unsubscribe)),
            base: base.clone(),
            reply_token: tokens.reply.clone(),
        }
    }

    /// The address the one-click links of the digest of `day` write to: it names the reader
    /// only through a code derived from their reply token and the day, and expires
    /// [`CLICK_DAYS`] after it.
    pub fn click(&self, day: NaiveDate) -> Address {
        tagged(
            &self.base,
            &format!(
                "click-{}-{}",
                day.format("%Y%m%d"),
                click_code(&self.reply_token, day)
            ),
        )
    }
}

fn tagged(base: &Address, tag: &str) -> Address {
    Address::new(format!("{}+{tag}", base.user()), base.domain())
        .expect("a valid base address with a hex tag")
}

/// The code of the digest of `day`'s one-click address for the holder of `reply_token`.
pub fn click_code(reply_token: &str, day: NaiveDate) -> String {
    let mut h = Sha256::new();
    h.update(b"paperboy one-click\0");
    h.update(reply_token.to_ascii_lowercase().as_bytes());
    h.update(b"\0");
    h.update(day.to_string().as_bytes());
    crate::support::text::hex(&h.finalize())[..24].to_string()
}

/// The day and code of a one-click tag (`click-20250328-…`), if it is one.
pub fn parse_click(tag: &str) -> Option<(NaiveDate, String)> {
    let rest = tag.strip_prefix("click-")?;
    let (day, code) = rest.split_once('-')?;
    let day = NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
    (code.len() == 24 && code.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| (day, code.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digests_click_address_names_its_day_and_reads_back() {
        let base: Address = "digest@lab.example.org".parse().unwrap();
        let tokens = ReplyTokens {
            reply: "ab12".into(),
            unsubscribe: "cd34".into(),
        };
        let a = ReplyAddresses::new(&base, &tokens);
        let day = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        let click = a.click(day).to_string();
        let tag = click.split('+').nth(1).unwrap().split('@').next().unwrap();
        assert_eq!(parse_click(tag), Some((day, click_code("ab12", day))));
        assert_ne!(click_code("ab12", day), click_code("ab13", day));
        assert_ne!(
            click_code("ab12", day),
            click_code("ab12", day.succ_opt().unwrap())
        );
        assert_eq!(parse_click("click-2025-xyz"), None);
        assert_eq!(parse_click("ab12"), None);
    }
}
