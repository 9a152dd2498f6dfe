use std::fmt;

/// A subscriber's mail address, checked with lettre's RFC 5321 parser and stored lowercased
/// so `Alice@Lab.org` and `alice@lab.org` are one subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberEmail(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("`{0}` is not a valid email address (expected something like ada@lab.example.org)")]
    Invalid(String),
    #[error("`{0}` mixes letters of different scripts, like a lookalike of another address; write it in one script")]
    MixedScripts(String),
}

impl SubscriberEmail {
    /// Parses and normalises an address (NFKC, lowercase), refusing one whose local part or
    /// domain mixes scripts (`аda@lab.org` with a Cyrillic `а`): a lookalike of another address.
    pub fn parse(raw: &str) -> Result<SubscriberEmail, EmailError> {
        use unicode_normalization::UnicodeNormalization as _;
        let s: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        match s.parse::<lettre::Address>() {
            Ok(addr) if addr.domain().contains('.') || addr.domain() == "localhost" => {
                if mixed_scripts(addr.user()) || addr.domain().split('.').any(mixed_scripts) {
                    return Err(EmailError::MixedScripts(raw.trim().to_string()));
                }
                Ok(SubscriberEmail(s))
            }
            _ => Err(EmailError::Invalid(raw.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_address(&self) -> lettre::Address {
        self.0.parse().expect("validated at construction")
    }
}

/// The script of a letter, coarsely: enough to tell a Latin address from a lookalike.
fn script(c: char) -> Option<&'static str> {
    if !c.is_alphabetic() {
        return None;
    }
    Some(match c as u32 {
        0x0000..=0x024F | 0x1E00..=0x1EFF => "Latin",
        0x0370..=0x03FF | 0x1F00..=0x1FFF => "Greek",
        0x0400..=0x052F => "Cyrillic",
        0x0530..=0x058F => "Armenian",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF => "Arabic",
        _ => "other",
    })
}

fn mixed_scripts(part: &str) -> bool {
    let mut seen: Option<&str> = None;
    for s in part.chars().filter_map(script) {
        match seen {
            Some(prev) if prev != s => return true,
            _ => seen = Some(s),
        }
    }
    false
}

impl fmt::Display for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_normalised() {
        assert_eq!(
            SubscriberEmail::parse(" Ada@Lab.Example.org ")
                .unwrap()
                .as_str(),
            "ada@lab.example.org"
        );
        assert!(SubscriberEmail::parse("digest@localhost").is_ok());
        // Compatibility forms fold into the plain address (so they collide with it).
        assert_eq!(
            SubscriberEmail::parse("ａｄａ@lab.example.org")
                .unwrap()
                .as_str(),
            "ada@lab.example.org"
        );
        assert!(SubscriberEmail::parse("jürgen@münchen.example.de").is_ok());
    }

    #[test]
    fn lookalikes_that_mix_scripts_are_refused() {
        for raw in ["\u{430}da@lab.example.org", "ada@l\u{430}b.example.org"] {
            let e = SubscriberEmail::parse(raw).unwrap_err().to_string();
            assert!(e.contains("mixes letters of different scripts"), "{e}");
        }
        assert!(
            SubscriberEmail::parse("\u{430}\u{434}\u{430}@lab.example.org").is_ok(),
            "one script is fine"
        );
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@lab.org",
            "ada lovelace@lab.org",
            "ada@lab",
            "<ada@lab.org>",
        ] {
            assert!(SubscriberEmail::parse(raw).is_err(), "{raw}");
        }
    }
}
