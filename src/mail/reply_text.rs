//! The part of a reply the subscriber wrote: the text above the quoted digest, without the
//! attribution line ("On … wrote:"), Outlook's header block, quoted lines and signatures.

/// Returns what the sender wrote above the quote.
pub fn new_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut end = lines.len();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let lower = line.to_lowercase();
        let starts_quote = line.starts_with('>')
            || is_attribution(line)
            || (starts_attribution(line)
                && (next.to_lowercase().ends_with("wrote:") || next.ends_with("a écrit :")))
            || line.starts_with("-----Original Message-----")
            || line.starts_with("----- Original Message -----")
            || (line.len() >= 10 && line.chars().all(|c| c == '_'))
            || (lower.starts_with("from:") && outlook_block(&lines[i + 1..]))
            || line == "--"
            || *raw == "-- "
            || lower.starts_with("sent from my ")
            || lower.starts_with("get outlook for ");
        if starts_quote {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].to_vec();
    kept.join("\n").trim().to_string()
}

/// Text of an HTML-only reply, keeping its line structure (block elements become line breaks, a
/// `<blockquote>` or `<hr>` marks where the quote starts) so the quote can be cut off.
pub fn html_to_text(html: &str) -> String {
    const BLOCK: &[&str] = &[
        "br", "div", "p", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre",
    ];
    let mut out = String::new();
    let mut chars = html.chars().peekable();
    let mut skip_until: Option<String> = None;
    while let Some(c) = chars.next() {
        if c == '<' {
            let mut tag = String::new();
            for t in chars.by_ref() {
                if t == '>' {
                    break;
                }
                tag.push(t);
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
            match name.as_str() {
                "script" | "style" | "head" | "title" if !closing => skip_until = Some(name),
                "blockquote" if !closing => out.push_str("\n>\n"),
                "hr" => out.push_str("\n__________\n"),
                n if BLOCK.contains(&n) => out.push('\n'),
                _ => {}
            }
        } else if skip_until.is_some() {
            continue;
        } else if c == '\r' || c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    html_escape::decode_html_entities(&out)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn starts_attribution(line: &str) -> bool {
    let l = line.to_lowercase();
    l.starts_with("on ") || l.starts_with("le ") || l.starts_with("am ")
}

/// "On Fri, Mar 28, 2025 at 6:00 AM paperboy <digest@lab.org> wrote:" and its translations.
fn is_attribution(line: &str) -> bool {
    let l = line.to_lowercase();
    (l.starts_with("on ") && l.ends_with("wrote:"))
        || (l.starts_with("le ") && (l.ends_with("a écrit :") || l.ends_with("a écrit:")))
        || (l.starts_with("am ") && l.ends_with("schrieb:"))
}

/// Outlook's quoted header: "From: …" then "Sent:"/"Date:" and "To:"/"Subject:" within a few lines.
fn outlook_block(rest: &[&str]) -> bool {
    rest.iter().take(4).any(|l| {
        let l = l.trim().to_lowercase();
        l.starts_with("sent:") || l.starts_with("date:")
    })
}

#[cfg(test)]
mod tests {
    use super::{html_to_text, new_text};

    #[test]
    fn gmail() {
        let body = "add topic: sparse attention\nfollow Yann LeCun\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <\ndigest+abc@lab.org> wrote:\n\n> Personalized Daily arXiv Papers\n> 1. MoQa";
        assert_eq!(
            new_text(body),
            "add topic: sparse attention\nfollow Yann LeCun"
        );
        let one_line =
            "pause\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <digest+abc@lab.org> wrote:\n> x";
        assert_eq!(new_text(one_line), "pause");
    }

    #[test]
    fn outlook() {
        let body = "relevance 8\r\n\r\n________________________________\r\nFrom: paperboy <digest+abc@lab.org>\r\nSent: Friday, March 28, 2025 6:00 AM\r\nTo: Ada\r\nSubject: arXiv digest\r\n\r\nPersonalized Daily arXiv Papers";
        assert_eq!(new_text(body), "relevance 8");
        let no_rule = "max 20\nFrom: paperboy <digest@lab.org>\nSent: Friday\nSubject: x\n\nbody";
        assert_eq!(new_text(no_rule), "max 20");
    }

    #[test]
    fn apple_mail_and_thunderbird() {
        let apple = "less like 5\n\nSent from my iPhone\n\n> On 28 Mar 2025, at 06:00, paperboy <digest@lab.org> wrote:\n> x";
        assert_eq!(new_text(apple), "less like 5");
        let tb = "unfollow Yann LeCun\n\nOn 3/28/25 06:00, paperboy wrote:\n> Personalized";
        assert_eq!(new_text(tb), "unfollow Yann LeCun");
    }

    #[test]
    fn html_only_replies_keep_their_lines() {
        let outlook = "<html><head><style>p{}</style></head><body><div>follow Bj&ouml;rn &amp; co</div><div>max 20</div>\
            <hr style=\"x\"><div id=\"divRplyFwdMsg\"><b>From:</b> paperboy &lt;digest@lab.org&gt;<br><b>Sent:</b> Friday</div>\
            <div>add topic: quoted</div></body></html>";
        assert_eq!(
            new_text(&html_to_text(outlook)),
            "follow Björn & co\nmax 20"
        );
        let gmail = "<div dir=\"ltr\">relevance 8</div><br><div class=\"gmail_quote\"><div>On Fri wrote:</div><blockquote>pause</blockquote></div>";
        assert_eq!(new_text(&html_to_text(gmail)), "relevance 8");
        assert_eq!(
            html_to_text("a&#233;&#xE9;&nbsp;b &lt;tag&gt;"),
            "aéé b <tag>"
        );
    }

    #[test]
    fn signatures_and_plain_text() {
        assert_eq!(
            new_text("help\n-- \nAda Lovelace\nAnalytical Engines Ltd"),
            "help"
        );
        assert_eq!(new_text("  topics  \n"), "topics");
        assert_eq!(new_text("follow: A. Turing"), "follow: A. Turing");
    }
}
