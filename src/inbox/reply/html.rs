//! An HTML-only reply as lines of text: block elements break lines, text inside `<blockquote>`
//! gets `>` marks (so a bottom-posted reply keeps the text under the quote), and the quote
//! containers clients wrap a quoted message in become [`QUOTE_MARK`].

use super::QUOTE_MARK;

/// Elements that end a line.
const BLOCK: &[&str] = &[
    "br",
    "div",
    "p",
    "tr",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "hr",
];

/// `class` or `id` values of the containers clients put a quoted message in.
const QUOTE_CONTAINERS: &[&str] = &[
    "gmail_quote",          // Gmail
    "gmail_extra",          // older Gmail
    "divrplyfwdmsg",        // Outlook (desktop and web)
    "outlookmessageheader", // older Outlook
    "appendonsend",         // Outlook on the web, the quote below a reply
    "yahoo_quoted",         // Yahoo Mail
    "applemailoriginalcontents",
    "appleoriginalcontents", // Apple Mail
    "moz-forward-container", // Thunderbird, forwarded
    "zmail_extra",           // Zoho
    "protonmail_quote",      // Proton Mail
];

pub fn html_to_text(html: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut depth = 0usize;
    let mut skip_until: Option<String> = None;
    let mut chars = html.chars().peekable();
    let flush = |line: &mut String, lines: &mut Vec<String>, depth: usize| {
        let text = html_escape::decode_html_entities(line.as_str())
            .replace('\u{a0}', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() {
            lines.push(format!("{}{text}", "> ".repeat(depth)));
        }
        line.clear();
    };
    while let Some(c) = chars.next() {
        if c != '<' {
            if skip_until.is_none() {
                line.push(if c == '\r' || c == '\n' { ' ' } else { c });
            }
            continue;
        }
        let mut tag = String::new();
        for t in chars.by_ref() {
            if t == '>' {
                break;
            }
            tag.push(t);
        }
        if tag.starts_with("!--") {
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(until) = &skip_until {
            if closing && &name == until {
                skip_until = None;
            }
            continue;
        }
        if !closing && ["script", "style", "head", "title"].contains(&name.as_str()) {
            skip_until = Some(name);
            continue;
        }
        if BLOCK.contains(&name.as_str()) {
            flush(&mut line, &mut lines, depth);
        }
        if name == "blockquote" {
            depth = if closing {
                depth.saturating_sub(1)
            } else {
                depth + 1
            };
        }
        if !closing && is_quote_container(&tag) {
            flush(&mut line, &mut lines, depth);
            lines.push(QUOTE_MARK.to_string());
        }
        if name == "hr" {
            lines.push("________________________________".into());
        }
    }
    flush(&mut line, &mut lines, depth);
    lines.join("\n").trim().to_string()
}

fn is_quote_container(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    ["class", "id"].iter().any(|attr| {
        attribute(&lower, attr).is_some_and(|v| {
            v.split_whitespace()
                .any(|word| QUOTE_CONTAINERS.contains(&word))
        })
    })
}

/// The value of `name="…"` (or '…') in a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest[..at].chars().last().is_some_and(|c| c.is_whitespace());
        let after = rest[at + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let quote = v.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let body = &v[1..];
                    return body.find(quote).map(|end| &body[..end]);
                }
                return v.split_whitespace().next();
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::typed_text;
    use super::*;

    #[test]
    fn quote_containers_of_the_common_clients() {
        let outlook = "<html><head><style>p{}</style></head><body><div>follow Bj&ouml;rn &amp; co</div><div>max 20</div>\
            <hr style=\"x\"><div id=\"divRplyFwdMsg\"><b>From:</b> paperboy &lt;digest@lab.org&gt;<br><b>Sent:</b> Friday</div>\
            <div>add topic: quoted</div></body></html>";
        assert_eq!(
            typed_text(&html_to_text(outlook)),
            "follow Björn & co\nmax 20"
        );
        for container in [
            "<div class=\"gmail_quote\">",
            "<div class=\"yahoo_quoted\" id=\"yahoo_quoted_123\">",
            "<div id=\"appendonsend\"></div>",
            "<div id=\"AppleOriginalContents\">",
        ] {
            let html = format!("<div dir=\"ltr\">relevance 8</div>{container}<div>On Fri wrote:</div><div>unsubscribe</div></div>");
            assert_eq!(
                typed_text(&html_to_text(&html)),
                "relevance 8",
                "{container}"
            );
        }
        assert_eq!(
            html_to_text("a&#233;&#xE9;&nbsp;b &lt;tag&gt;"),
            "aéé b <tag>"
        );
    }

    #[test]
    fn blockquotes_are_quoted_lines_so_text_below_them_is_kept() {
        let thunderbird = "<div class=\"moz-cite-prefix\">On 28/03/2025 07:31, paperboy wrote:<br></div>\
            <blockquote type=\"cite\"><div>1. MoQa</div><div>unsubscribe</div></blockquote><p>add topic: sparse attention</p>";
        assert_eq!(
            typed_text(&html_to_text(thunderbird)),
            "add topic: sparse attention"
        );
    }
}
