//! The papers of an HTML digest: the top picks, full cards, followed authors' short cards and
//! one-line entries. maud escapes every interpolated string; model text goes through
//! [`inline`].

use maud::{html, Markup};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{Digest, Entry};
use crate::support::tex::readable;
use crate::support::text as inline;

/// How much of a full card's abstract to keep (`None`: all of it).
pub type Trim = Option<usize>;

/// The day's best papers, first on the screen, as cards: title (to arXiv), scores, TL;DR,
/// why, the abstract as far as the view keeps it, and the teaching links. They are not
/// repeated below.
pub fn top_picks(d: &Digest, trim: impl Fn(usize) -> Trim) -> Markup {
    let picks = d.top_picks();
    html! {
        @if !picks.is_empty() {
            h2 id="top" style="margin-top:14px" { (d.period_word()) "'s top " (picks.len()) }
            @for (i, (n, e)) in picks.into_iter().enumerate() {
                (card(d, n, e, trim(i), i > 0))
            }
        }
    }
}

/// "86/100 · matches: MoE quantization": the score and the reason, or the verdict's integers.
fn why(e: &Entry) -> Markup {
    html! {
        @if let Some(s) = e.score_label() { span class="b" { (s) } }
        @if let Some(r) = e.reason_label() { " " span class="kw2" { (r) } }
    }
}

/// Characters a mailto's address keeps as they are: every other one is percent-encoded, the
/// `+` of the tagged address above all (some handlers read a bare `+` as a space, and a reply
/// without its tag reaches no reader).
const ADDRESS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

/// A mailto that writes the reply: to the digest's one-click address (it expires), the command as subject
/// and body, so one click and Send is the whole gesture.
fn mailto(to: &str, command: &str) -> String {
    let c = utf8_percent_encode(command, NON_ALPHANUMERIC).to_string();
    format!("{}&body={c}", mailto_subject(to, &c))
}

/// `mailto:` to `to` (percent-encoded) with `subject` (already encoded).
pub(super) fn mailto_subject(to: &str, subject: &str) -> String {
    format!(
        "mailto:{}?subject={subject}",
        utf8_percent_encode(to, ADDRESS)
    )
}

/// " · More like this · Less like this", when replies are read.
fn teach(d: &Digest, e: &Entry) -> Markup {
    html! {
        @if let Some(r) = &d.reply {
            @let to = r.click(d.day).to_string();
            " · " a href=(mailto(&to, &format!("more like {}", e.paper.id))) { "More like this" }
            " · " a href=(mailto(&to, &format!("less like {}", e.paper.id))) { "Less like this" }
        }
    }
}

/// The verdict's two scores as badges.
fn badges(e: &Entry) -> Markup {
    html! {
        @if let Some(v) = &e.verdict {
            " " span class="b2" { "Relevance " (v.relevance) }
            @if let Some(n) = v.novelty { " " span class="b2" { "Novelty " (n) } }
        }
    }
}

/// A paper's one-line verdict: scores as badges, then the comment as text.
fn verdict(e: &Entry) -> Markup {
    html! {
        @if let Some(v) = &e.verdict {
            (badges(e))
            @if !v.comment.trim().is_empty() { " " (inline::rich(&v.comment)) }
        }
    }
}

/// Authors with the followed ones in bold; a long list is cut after six names (followed
/// authors always shown).
fn authors(e: &Entry) -> Markup {
    const SHOWN: usize = 6;
    let all = &e.paper.authors;
    let shown: Vec<&String> = all
        .iter()
        .enumerate()
        .filter(|(i, a)| *i < SHOWN || e.followed.contains(a))
        .map(|(_, a)| a)
        .collect();
    let hidden = all.len() - shown.len();
    html! {
        @for (n, a) in shown.iter().enumerate() {
            @if n > 0 { ", " }
            @if e.followed.contains(a) { strong { (a) " ★" } } @else { (a) }
        }
        @if hidden > 0 { " and " (hidden) " more" }
    }
}

fn links(d: &Digest, e: &Entry) -> Markup {
    let p = &e.paper;
    html! {
        p class="ln" {
            a href=(p.abs_url()) { (p.citation()) }
            " · " a href=(p.pdf_url()) { "PDF" }
            @if let Some(u) = p.html_url() { " · " a href=(u) { "HTML" } }
            @if let Some(u) = p.bibtex_url() { " · " a href=(u) { "BibTeX" } }
            (teach(d, e))
        }
    }
}

/// Where a cut abstract's "… full abstract" goes: the card on the archive's page of the day
/// when there is one, else arXiv.
fn whole_abstract(d: &Digest, n: usize, e: &Entry) -> String {
    match &d.archive_url {
        Some(url) => format!("{url}#paper-{n}"),
        None => e.paper.abs_url(),
    }
}

/// A card with everything: scores and reason, TL;DR, why, authors, abstract and links.
pub fn full(d: &Digest, n: usize, e: &Entry, trim: Trim) -> Markup {
    card(d, n, e, trim, true)
}

/// Why the model picked the paper: its whole comment (`whole`, on the archive's page) or the
/// first sentence of it (in the mail); the reader's matched topic when it said nothing.
fn why_line(e: &Entry, whole: bool) -> Markup {
    let comment = e
        .verdict
        .as_ref()
        .map(|v| v.comment.trim())
        .filter(|c| !c.is_empty());
    html! {
        @match comment {
            Some(c) if whole => p class="why" { "Why: " (inline::rich(c)) },
            Some(c) => p class="why" {
                "Why: " (inline::first_sentence(&inline::plain(c), 200).unwrap_or_default())
            },
            None => @if let Some(r) = e.reason_line() { p class="why" { "Why: " (r) } },
        }
    }
}

fn card(d: &Digest, n: usize, e: &Entry, trim: Trim, rule: bool) -> Markup {
    let p = &e.paper;
    let abstract_text = readable(&p.abstract_text);
    let shortened = trim.and_then(|keep| inline::shortened(&abstract_text, keep));
    html! {
        @if rule { hr; }
        h2 id=(format!("paper-{n}")) {
            (n) ". " a href=(p.abs_url()) { (readable(&p.title)) }
            @if p.source != crate::domain::Source::Arxiv { " " span class="m" { "(" (p.source.name()) ")" } }
            @if let Some(a) = e.announced_label() { " " span class="m" { "· " (a) } }
        }
        p {
            (why(e)) (badges(e))
            @if let Some(m) = p.announce_mark() { " " span class="m" { (m) } }
        }
        @if let Some(t) = e.verdict.as_ref().and_then(|v| v.tldr.as_deref()) {
            p class="tl" { "TL;DR: " (inline::rich(t)) }
        }
        (why_line(e, trim.is_none()))
        p class="au" { (authors(e)) }
        @match shortened {
            None => p { (inline::linked(&abstract_text)) },
            // Cut to nothing: the title and the arXiv link lead to it; its own links (code,
            // data) stay.
            Some("") => @if !inline::urls(&abstract_text).is_empty() {
                p class="ln" {
                    @for (i, url) in inline::urls(&abstract_text).into_iter().enumerate() {
                        @if i > 0 { br; }
                        a href=(url) { (url) }
                    }
                }
            },
            Some(head) => p {
                (inline::linked(head)) " … " a href=(whole_abstract(d, n, e)) { "full abstract" }
                // Links past the cut (code, data) are kept.
                @for url in inline::urls(&abstract_text).into_iter().filter(|u| !head.contains(u)) {
                    br; a href=(url) { (url) }
                }
            },
        }
        (links(d, e))
    }
}

/// A followed author's paper: who, with whom, the verdict and TL;DR.
pub fn followed(d: &Digest, n: usize, e: &Entry) -> Markup {
    let co = e.co_authors();
    html! {
        div class="pk" id=(format!("paper-{n}")) {
            p style="margin:0 0 2px" {
                strong { (n) ". " a href=(e.paper.abs_url()) { (readable(&e.paper.title)) } }
                @if let Some(a) = e.announced_label() { " " span class="m" { "· " (a) } }
            }
            p class="au" {
                "★ " strong { (e.followed.join(", ")) }
                @if !co.is_empty() {
                    " with " (co.iter().take(6).map(|a| a.as_str()).collect::<Vec<_>>().join(", "))
                    @if co.len() > 6 { " and " (co.len() - 6) " more" }
                }
            }
            @if let Some(note) = e.namesake_note() { p class="m" { (note) } }
            @if let Some(g) = e.gist() { p class="tl" { (g) } }
            @if e.verdict.is_some() { p { (why(e)) " " (verdict(e)) } }
            (links(d, e))
        }
    }
}

/// One line: number, title, score and the teaching links, then the TL;DR's start.
pub fn line(d: &Digest, n: usize, e: &Entry) -> Markup {
    html! {
        li id=(format!("paper-{n}")) {
            a href=(e.paper.abs_url()) { (readable(&e.paper.title)) }
            @if let Some(s) = e.score_label() { " " span class="m" { "· " (s) } }
            @if let Some(a) = e.announced_label() { " " span class="m" { "· " (a) } }
            span class="m" { (teach(d, e)) }
            @if let Some(g) = e.gist() { br; span class="tl" { (short_gist(&g)) } }
        }
    }
}

/// A one-liner's TL;DR: its first 80 characters (the archive's page has it whole).
fn short_gist(g: &str) -> String {
    match inline::shortened(g, 80) {
        Some(head) => format!("{head} …"),
        None => g.to_string(),
    }
}

/// A paper past the reader's daily limit: title, score and the teaching links.
pub fn past_limit(d: &Digest, e: &Entry) -> Markup {
    html! {
        li {
            a href=(e.paper.abs_url()) { (readable(&e.paper.title)) }
            @if let Some(s) = e.score_label() { " " span class="m" { "· " (s) } }
            span class="m" { (teach(d, e)) }
        }
    }
}
