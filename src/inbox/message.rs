//! Reading a message: its body as text, the addresses in a header, the IDs it refers to, and
//! whether it is an automatic message (auto-reply, bounce) rather than a person's reply.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders as _, PartType};

use crate::inbox::reply;

/// The body a person wrote in: the text part, or an HTML-only message as lines; cleaned at the
/// door ([`crate::support::text::clean`]).
pub fn body_text(msg: &mail_parser::Message) -> String {
    use crate::support::text::clean;
    // Cleaned before the HTML is read: the reader marks quotes with a control character of its
    // own, which nothing from outside can forge.
    match msg.text_part(0).map(|p| &p.body) {
        Some(PartType::Text(t)) => clean(t).into_owned(),
        Some(PartType::Html(h)) => reply::html_to_text(&clean(h)),
        _ => msg
            .body_html(0)
            .map(|h| reply::html_to_text(&clean(&h)))
            .unwrap_or_default(),
    }
}

/// The text of a `.bib` attachment (a reader's library), if the message has one.
pub fn bib_attachment(msg: &mail_parser::Message) -> Option<String> {
    msg.attachments().find_map(|part| {
        let named_bib = part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".bib"));
        let typed_bib = part.content_type().is_some_and(|c| {
            c.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("x-bibtex") || s.eq_ignore_ascii_case("bibtex")
            })
        });
        (named_bib || typed_bib).then(|| {
            crate::support::text::clean(&String::from_utf8_lossy(part.contents())).into_owned()
        })
    })
}

/// The plain text of a message paperboy sent (its stored bytes).
pub(super) fn sent_text(raw: &[u8]) -> String {
    MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.to_string()))
        .unwrap_or_default()
}

/// Addresses (`a@b`) in a header value, whatever the display names around them.
pub(super) fn addresses_in(value: &str) -> Vec<String> {
    value
        .split(|c: char| {
            c == ',' || c == ';' || c == '<' || c == '>' || c.is_whitespace() || c == '"'
        })
        .filter(|p| p.contains('@') && !p.starts_with('@'))
        .map(|p| p.trim_matches(['.', ':']).to_lowercase())
        .collect()
}

pub(super) fn ids_of(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Auto-replies, vacation responders and bounces: never commands.
pub(super) fn automatic(
    headers: &[(String, String)],
    from: Option<&str>,
    subject: &str,
    msg: &mail_parser::Message,
) -> Option<String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_lowercase())
    };
    if let Some(v) = get("auto-submitted") {
        if v != "no" {
            return Some(format!("an automatic message (Auto-Submitted: {v})"));
        }
    }
    for name in ["x-autoreply", "x-autorespond", "x-auto-response-suppress"] {
        if get(name).is_some() && name != "x-auto-response-suppress" {
            return Some(format!("an automatic reply ({name})"));
        }
    }
    if let Some(p) = get("precedence") {
        if ["bulk", "junk", "list", "auto_reply"].contains(&p.as_str()) {
            return Some(format!("an automatic message (Precedence: {p})"));
        }
    }
    let s = subject.to_lowercase();
    if [
        "out of office",
        "automatic reply",
        "auto:",
        "autoreply",
        "vacation",
    ]
    .iter()
    .any(|p| s.starts_with(p))
    {
        return Some(format!("an out-of-office reply (\"{subject}\")"));
    }
    if let Some(f) = from {
        let local = f.split('@').next().unwrap_or("");
        if ["mailer-daemon", "postmaster"].contains(&local) {
            return Some(format!("a bounce from {f}"));
        }
    }
    if msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery report (bounce)".into());
    }
    if get("return-path").as_deref() == Some("<>") {
        return Some("a bounce (empty Return-Path)".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            addresses_in("\"Ada, L.\" <Ada@Lab.org>, digest+abc@lab.org"),
            vec!["ada@lab.org", "digest+abc@lab.org"]
        );
    }
}
