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

/// Text with its URLs made into links (abstracts carry code and data links).
pub fn linked(text: &str) -> Markup {
    let finder = linkify::LinkFinder::new();
    html! {
        @for span in finder.spans(text) {
            @match span.kind() {
                Some(linkify::LinkKind::Url) => a href=(span.as_str()) { (span.as_str()) },
                _ => (span.as_str()),
            }
        }
    }
}

/// The URLs in `text`, in order.
pub fn urls(text: &str) -> Vec<&str> {
    linkify::LinkFinder::new()
        .links(text)
        .filter(|l| *l.kind() == linkify::LinkKind::Url)
        .map(|l| l.as_str())
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
