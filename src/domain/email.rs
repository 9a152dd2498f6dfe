use std::fmt;

/// A subscriber's mail address, checked with lettre's RFC 5321 parser and stored lowercased
/// so `Alice@Lab.org` and `alice@lab.org` are one subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberEmail(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid email address (expected something like ada@lab.example.org)")]
pub struct EmailError(pub String);

impl SubscriberEmail {
    pub fn parse(raw: &str) -> Result<SubscriberEmail, EmailError> {
        let s = raw.trim();
        match s.parse::<lettre::Address>() {
            Ok(addr) if addr.domain().contains('.') || addr.domain() == "localhost" => {
                Ok(SubscriberEmail(s.to_lowercase()))
            }
            _ => Err(EmailError(raw.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_address(&self) -> lettre::Address {
        self.0.parse().expect("validated at construction")
    }
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
