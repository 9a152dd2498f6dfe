//! The editable text of the non-digest mails, from `emails/` (built-in copies when missing).

use std::path::Path;

const HELP: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/emails/help.txt"));
const CONFIRMATION: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emails/confirmation.txt"
));
const UNSUBSCRIBED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emails/unsubscribed.txt"
));
const CONFIRM_UNSUBSCRIBE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emails/confirm-unsubscribe.txt"
));
const CONFIRM_SUBSCRIBE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emails/confirm-subscribe.txt"
));
const WELCOME: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/emails/welcome.txt"));

#[derive(Debug, Clone)]
pub struct Templates {
    pub help: String,
    pub confirmation: String,
    pub unsubscribed: String,
    pub confirm_unsubscribe: String,
    pub confirm_subscribe: String,
    pub welcome: String,
}

impl Templates {
    pub fn load(dir: &Path) -> Templates {
        let read = |name: &str, default: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(t) if !t.trim().is_empty() => t,
            _ => default.to_string(),
        };
        Templates {
            help: read("help.txt", HELP),
            confirmation: read("confirmation.txt", CONFIRMATION),
            unsubscribed: read("unsubscribed.txt", UNSUBSCRIBED),
            confirm_unsubscribe: read("confirm-unsubscribe.txt", CONFIRM_UNSUBSCRIBE),
            confirm_subscribe: read("confirm-subscribe.txt", CONFIRM_SUBSCRIBE),
            welcome: read("welcome.txt", WELCOME),
        }
    }
}

/// Fills `{key}` placeholders; unknown placeholders stay as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_fallbacks() {
        assert_eq!(
            fill("Hi {name}, {other}", &[("name", "Ada {topics}")]),
            "Hi Ada {topics}, {other}"
        );
        let t = Templates::load(Path::new("/nonexistent"));
        assert!(t.help.contains("add topic: TEXT"));
    }
}
