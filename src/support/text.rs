//! Text that comes from models and readers, made fit to show: TeX turned into Unicode, markdown
//! emphasis into `<strong>`/`<em>` (or plain text), URLs into links. Nothing a model writes ever
//! reaches a digest as markup: its HTML is shown as text and its links as their words.

use maud::{html, Markup, PreEscaped};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// A model's comment as HTML: emphasis and code styled, TeX as Unicode, everything escaped.
pub fn rich(text: &str) -> Markup {
    let text = crate::support::tex::to_unicode(text);
    let mut out = String::new();
    let mut pending_space = false;
    for event in Parser::new(&text) {
        let mut push = |s: &str, out: &mut String| {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push_str(s);
        };
        match event {
            Event::Start(Tag::Strong) => push("<strong>", &mut out),
            Event::End(TagEnd::Strong) => out.push_str("</strong>"),
            Event::Start(Tag::Emphasis) => push("<em>", &mut out),
            Event::End(TagEnd::Emphasis) => out.push_str("</em>"),
            Event::Code(c) => push(
                &format!("<code>{}</code>", html_escape::encode_text(&c)),
                &mut out,
            ),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => {
                push(&html_escape::encode_text(&t), &mut out)
            }
            Event::SoftBreak | Event::HardBreak => pending_space = true,
            Event::End(end) => pending_space |= is_block(end),
            _ => {}
        }
    }
    PreEscaped(out)
}

/// The same text without markup, for the plain-text part and summaries.
pub fn plain(text: &str) -> String {
    let text = crate::support::tex::readable(&crate::support::tex::to_unicode(text));
    let mut out = String::new();
    let mut pending_space = false;
    for event in Parser::new(&text) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => pending_space = true,
            Event::End(end) => pending_space |= is_block(end),
            _ => {}
        }
    }
    out
}

/// Whether the end of `tag` separates words (a paragraph, heading, list item) rather than
/// closing emphasis or a link inside a sentence.
fn is_block(tag: TagEnd) -> bool {
    !matches!(
        tag,
        TagEnd::Strong | TagEnd::Emphasis | TagEnd::Link | TagEnd::Strikethrough | TagEnd::Image
    )
}

/// Whether a character never belongs in text from outside: C0 and C1 controls (newline and tab
/// excepted), bidirectional overrides and isolates (they reorder what a reader or an admin's
/// terminal shows), and the characters that show nothing yet carry text or change it: zero-width
/// spaces and the byte-order mark, the soft hyphen, the invisible operators (U+2061–2064), the
/// deprecated format characters (U+206A–206F), the Mongolian vowel separator, variation
/// selectors, and the tag characters (U+E0000–E007F, which smuggle ASCII past a reader into a
/// prompt). The line and paragraph separators (U+2028/2029) count too: [`clean`] makes them
/// newlines. What XML 1.0 forbids goes as well. The zero-width (non-)joiners stay: Persian,
/// Indic scripts and emoji need them.
pub fn unwanted_char(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true,
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => true,
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => true,
        '\u{00AD}'
        | '\u{180E}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{2061}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}' => true,
        _ => false,
    }
}

/// Text from outside (feeds, APIs, model answers, replies, subscribe requests, BibTeX) as it is
/// kept: [`unwanted_char`]s removed (a carriage return becomes a newline's job: `\r\n` → `\n`).
/// Applied once, where the text arrives; each output still escapes for its medium.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unwanted_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            c if unwanted_char(c) => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text for a terminal: every [`unwanted_char`] shown as its code (`<U+001B>`), so nothing from
/// outside moves the cursor, recolours the screen or reverses a line.
pub fn for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unwanted_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if unwanted_char(c) {
                    format!("<U+{:04X}>", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Whether a URL found in text may become a link: `http` and `https` only, whatever the text
/// says (`javascript:`, `file:`, `smb:`, `data:` … stay text).
pub fn linkable(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Text with its web URLs made into links (abstracts carry code and data links); other
/// schemes stay text.
pub fn linked(text: &str) -> Markup {
    let finder = linkify::LinkFinder::new();
    html! {
        @for span in finder.spans(text) {
            @match span.kind() {
                Some(linkify::LinkKind::Url) if linkable(span.as_str()) => a href=(span.as_str()) { (span.as_str()) },
                _ => (span.as_str()),
            }
        }
    }
}

/// The web URLs in `text`, in order.
pub fn urls(text: &str) -> Vec<&str> {
    linkify::LinkFinder::new()
        .links(text)
        .filter(|l| *l.kind() == linkify::LinkKind::Url && linkable(l.as_str()))
        .map(|l| l.as_str())
        .collect()
}

/// The content words of `text`, each in a rough common form (lower case, a plural's "s" and
/// everything past six letters taken off: "quantization" and "quantized" meet), small words
/// left out: for telling whether a text says what a short label says.
pub fn stems(text: &str) -> std::collections::HashSet<String> {
    const SMALL: [&str; 13] = [
        "and", "or", "of", "for", "the", "in", "on", "with", "to", "from", "by", "via", "a",
    ];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 && !SMALL.contains(w))
        .map(|w| w.strip_suffix('s').unwrap_or(w).chars().take(6).collect())
        .collect()
}

/// At most `max` characters of `text`, cut at a word, or `None` when it fits.
pub fn shortened(text: &str, max: usize) -> Option<&str> {
    if text.chars().count() <= max {
        return None;
    }
    let cut = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    Some(
        head.rfind(' ')
            .map_or(head, |i| &head[..i])
            .trim_end_matches([',', ';', ':']),
    )
}

/// The first sentence of `text` (up to its first ". ", "? " or "! " past a few words), or
/// `None` when there is no text; cut at a word past `max` characters.
pub fn first_sentence(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        if i > 20 && matches!(c, '.' | '?' | '!') {
            let next = text[i + c.len_utf8()..].chars().next();
            if next.is_none_or(char::is_whitespace) {
                end = i + c.len_utf8();
                break;
            }
        }
    }
    let s = &text[..end];
    Some(match shortened(s, max) {
        Some(head) => format!("{head} …"),
        None => s.to_string(),
    })
}

/// The start of a reader's topics as one plain sentence run (markdown taken out, wrapped lines
/// joined), at most `max` characters, and whether it was cut: a footer reminder, not the file.
pub fn summary(topics: &str, max: usize) -> (String, bool) {
    let text = plain(topics);
    match shortened(&text, max) {
        Some(head) => (format!("{head} …"), true),
        None => (text, false),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_loses_what_would_hide_or_reorder_it() {
        let hostile = "Ti\u{1b}[31mtle\u{1}\u{202E}txt.exe\u{200B}\u{FEFF} \u{9b}x\r\nnext\tcol";
        assert_eq!(clean(hostile), "Ti[31mtletxt.exe x\nnext\tcol");
        // Scripts that need the joiners keep them.
        assert_eq!(
            clean("می\u{200C}خواهم 👩\u{200D}🔬"),
            "می\u{200C}خواهم 👩\u{200D}🔬"
        );
        assert!(matches!(clean("plain"), std::borrow::Cow::Borrowed(_)));
        // What shows nothing yet smuggles text: tag characters spelling "IGNORE", the soft
        // hyphen, invisible operators, deprecated format characters, the Mongolian vowel
        // separator, variation selectors; the line and paragraph separators become newlines.
        let smuggled = "re\u{AD}lu\u{2062}\u{206A}\u{180E}\u{FE0F}\u{E0100}\u{E0049}\u{E0047}\u{E004E}\u{E004F}\u{E0052}\u{E0045}\u{E007F}ad\u{2028}on\u{2029}";
        assert_eq!(clean(smuggled), "reluad\non\n");
        assert_eq!(for_terminal("a\u{E0041}b"), "a<U+E0041>b");
        assert_eq!(for_terminal("a\u{1b}[2Jb\u{202E}"), "a<U+001B>[2Jb<U+202E>");
    }

    #[test]
    fn only_web_links_become_links() {
        let abs = "Code: https://github.com/x/y and javascript://github.com/code%0A'PWNED' \
                   JaVaScRiPt://a.b/c file:///etc/passwd smb://host/share data://x vbscript://y";
        let html = linked(abs).into_string();
        assert_eq!(html.matches("<a href").count(), 1, "{html}");
        assert!(html.contains("<a href=\"https://github.com/x/y\">"));
        assert_eq!(urls(abs), vec!["https://github.com/x/y"]);
        assert!(
            linkable("HTTPS://EXAMPLE.ORG") && !linkable("ms-msdt://x") && !linkable("intent://x")
        );
    }

    #[test]
    fn model_markdown_and_tex_never_show_raw() {
        let c = "Matches **Model Compression**: *MoE* quantization with $\\sim$600 `int4` kernels.";
        let html = rich(c).into_string();
        assert_eq!(
            html,
            "Matches <strong>Model Compression</strong>: <em>MoE</em> quantization with ∼600 <code>int4</code> kernels."
        );
        assert_eq!(
            plain(c),
            "Matches Model Compression: MoE quantization with ∼600 int4 kernels."
        );
        // Math with no Unicode form reads as the mail's cards write it (the feed's summaries).
        assert_eq!(
            plain(r"Bounds $\mu_{\mathcal{L}}$ tightly."),
            "Bounds μ_ℒ tightly."
        );
    }

    #[test]
    fn model_html_and_links_are_text() {
        let html =
            rich("<img src=x onerror=alert(1)> see [this](http://evil.example)").into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img"), "{html}");
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains("this"), "{html}");
    }

    #[test]
    fn urls_in_abstracts_become_links() {
        let html = linked("Code: https://github.com/x/y. Data <here>.").into_string();
        assert_eq!(
            html,
            "Code: <a href=\"https://github.com/x/y\">https://github.com/x/y</a>. Data &lt;here&gt;."
        );
    }

    #[test]
    fn topics_summary_is_short_and_plain() {
        let topics = "## Relevant Topics\n\n**Keywords:**\n- Relevant: MoE, sparsity\n- Not relevant: RL\n\nLong text";
        assert_eq!(
            summary(topics, 60),
            (
                "Relevant Topics Keywords: Relevant: MoE, sparsity Not …".to_string(),
                true
            )
        );
        let wrapped = "Mixture-of-Experts; compression (sparsity,\npruning).";
        assert_eq!(
            summary(wrapped, 200),
            (
                "Mixture-of-Experts; compression (sparsity, pruning).".to_string(),
                false
            )
        );
        assert_eq!(shortened("one two three", 8), Some("one two"));
        assert_eq!(shortened("short", 8), None);
    }
}
