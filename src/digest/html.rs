//! The HTML views of a digest: the mail, and the same day as a page of the reader's web archive.
//!
//! Mail clients: one `<style>` block (Gmail, Apple Mail, Outlook and Thunderbird keep it) instead
//! of repeated inline styles, so a 50-paper day stays under Gmail's ~102 KB clip; a table-based
//! 600 px container for Outlook for Windows; `color-scheme` and a `prefers-color-scheme` block for
//! dark mode. maud escapes every interpolated string; model text goes through [`inline`].

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::cards;
use super::{Digest, Part};
use crate::domain::thousands;
use crate::support::tex::readable;
use crate::support::text as inline;

/// The most bytes the HTML part may take **as sent** (after its transfer encoding): Gmail
/// clips messages past about 102 KB, hiding the last papers and the footer behind "View entire
/// message"; the rest of the message (headers, the plain part) needs room too.
pub const SENT_BUDGET: usize = 86_000;

/// The mail is for deciding what to read: its cards leave the abstract to arXiv and the
/// archive's page of the day (a 50-paper day stays within about twelve phone screens and far
/// under [`SENT_BUDGET`]). The archive's pages keep every abstract whole.
const MAIL_ABSTRACT: usize = 0;

const CSS: &str = "\
body{margin:0;padding:0;background:#f3f4f6;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\
.box{background:#fff;color:#111827}\
.pad{padding:16px 20px;line-height:1.5;font-size:15px;overflow-wrap:break-word;word-wrap:break-word;overflow-wrap:anywhere}\
a{color:#1d4ed8}\
h1{font-size:22px;line-height:1.3;margin:0 0 4px}\
h2{font-size:17px;line-height:1.35;margin:0 0 6px}\
h2 a{text-decoration:none}\
p{margin:0 0 6px}\
.m{color:#6b7280;font-size:13px}\
.b{display:inline-block;padding:0 6px;border-radius:4px;background:#1e3a8a;color:#fff;font-weight:700;font-size:13px;white-space:nowrap}\
.b2{display:inline-block;padding:0 6px;border-radius:4px;background:#e0e7ff;color:#1e3a8a;font-weight:600;font-size:13px;white-space:nowrap}\
.kw2{color:#92400e;font-size:13px;font-weight:600}\
.pk{margin:0 0 12px}\
.am{background:#dcfce7;color:#14532d}\
.au{font-size:13px;color:#374151}\
.tl{font-style:italic;color:#1f2937}\
.why{font-size:14px;color:#374151}\
.ln{font-size:13px}\
.note{padding:10px 12px;border-left:4px solid #3b82f6;background:#eff6ff}\
.bad{border-left-color:#dc2626;background:#fef2f2}\
.kw{border-left-color:#f59e0b;background:#fffbeb;font-size:13px}\
hr{border:none;border-top:1px solid #e5e7eb;margin:14px 0}\
ol{padding-left:24px;margin:0}\
li{margin-bottom:5px;font-size:14px;line-height:1.4}\
li .tl{font-size:13px}\
code{font-size:13px}\
.u{border-collapse:collapse;font-size:13px;margin:8px 0 12px;width:100%}\
.u th,.u td{padding:3px 6px;border-bottom:1px solid #e5e7eb;text-align:right}\
.u th:first-child,.u td:first-child{text-align:left}\
.nav{font-size:14px;margin:0 0 12px}\
.nav a{display:inline-block;white-space:nowrap}\
@media (prefers-color-scheme:dark){\
body,.bg{background:#0b0f17!important}\
.box{background:#1f2937!important;color:#e5e7eb!important}\
a{color:#93c5fd!important}\
.m,.au{color:#9ca3af!important}\
.tl,.why{color:#d1d5db!important}\
.b{background:#c7d2fe!important;color:#1e1b4b!important}\
.b2{background:#312e81!important;color:#e0e7ff!important}\
.kw2{color:#fcd34d!important}\
.am{background:#14532d!important;color:#dcfce7!important}\
.note{background:#172554!important}\
.bad{background:#450a0a!important}\
.kw{background:#422006!important}\
hr,.u th,.u td{border-color:#374151!important}}\
@media (max-width:620px){.pad{padding:12px!important}h1{font-size:19px!important}}";

/// Links of an archive page to its neighbours (relative to the page).
pub struct ArchiveNav {
    pub previous: Option<(String, String)>,
    pub next: Option<(String, String)>,
    pub month: (String, String),
    pub index: String,
    /// The reader's Atom feed, relative to the page.
    pub feed: String,
}

/// The mail's HTML part: the whole digest, its cards without their abstracts. A digest past
/// Gmail's clip (a reader with hundreds of papers a day) is said in the log.
pub fn render_html(d: &Digest) -> String {
    let html = page(d, None, 0, MAIL_ABSTRACT);
    let size = sent_size(&html);
    if size > SENT_BUDGET {
        tracing::warn!(subscriber = %d.subscriber.email, bytes = size, "the digest's HTML is past Gmail's clip: its last papers hide behind \"View entire message\" (a lower max_papers keeps it whole)");
    }
    html
}

/// The bytes `html` takes in the message, in the transfer encoding the mail gets.
pub fn sent_size(html: &str) -> usize {
    lettre::message::Body::new(html.to_string()).len()
}

/// The day as a page of the reader's web archive: every abstract whole, links to the days
/// around it, and the day's one-click "more/less like this" links when replies are read (no
/// other mail address).
pub fn render_archive_day(d: &Digest, nav: &ArchiveNav) -> String {
    page(d, Some(nav), usize::MAX, 0)
}

fn page(d: &Digest, nav: Option<&ArchiveNav>, full: usize, keep: usize) -> String {
    let markup: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                title { (d.subject()) }
                @if let Some(nav) = nav {
                    link rel="alternate" type="application/atom+xml" title="Your papers" href=(nav.feed);
                }
                style { (PreEscaped(CSS)) }
            }
            body class="bg" {
                (preheader(d))
                table role="presentation" class="bg" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td align="center" {
                        table role="presentation" class="box" width="600" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;background:#fff;color:#111827" {
                            tr { td class="pad" {
                                @if let Some(nav) = nav { (nav_links(nav)) }
                                (header(d, nav.is_some()))
                                (cards::top_picks(d, |i| (i >= full).then_some(keep)))
                                (sections(d, full, keep))
                                (more(d))
                                (unscored(d))
                                @match nav {
                                    Some(nav) => { hr; (nav_links(nav)) (usage(d)) }
                                    None => { (footer(d)) (usage(d)) }
                                }
                            } }
                        }
                    } }
                }
            }
        }
    };
    markup.into_string()
}

/// A page of the web archive other than a day (a month, the index), in the digest's style.
pub fn page_shell(title: &str, feed: Option<&str>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) }
                @if let Some(f) = feed {
                    link rel="alternate" type="application/atom+xml" title="Your papers" href=(f);
                }
                style { (PreEscaped(CSS)) }
            }
            body class="bg" {
                div class="box pad" style="max-width:600px;margin:0 auto" {
                    (body)
                    @if let Some(f) = feed {
                        p class="m" style="margin-top:16px" { a href=(f) { "Your papers as a feed (Atom)" } " — for any feed reader." }
                    }
                }
            }
        }
    }
    .into_string()
}

/// Hidden text mail clients show as the inbox preview: the top papers, not the usage table.
fn preheader(d: &Digest) -> Markup {
    let mut text = d
        .top_picks()
        .iter()
        .take(3)
        .map(|(_, e)| readable(&e.paper.title))
        .collect::<Vec<_>>()
        .join(" · ");
    if text.is_empty() {
        text = d.status_line().unwrap_or_default();
    }
    html! {
        div style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;line-height:1px;opacity:0" {
            (text)
            (PreEscaped("&#8199;&#847;".repeat(40)))
        }
    }
}

fn nav_links(nav: &ArchiveNav) -> Markup {
    html! {
        p class="nav" {
            @if let Some((href, label)) = &nav.previous { a href=(href) { "← Previous Day " (label) } " · " }
            a href=(nav.month.0) { "Monthly Overview " (nav.month.1) }
            @if let Some((href, label)) = &nav.next { " · " a href=(href) { "Next Day " (label) " →" } }
            " · " a href=(nav.index) { "All months" }
            " · " a href=(nav.feed) { "Feed (Atom)" }
        }
    }
}

fn header(d: &Digest, archive: bool) -> Markup {
    let sub = &d.subscriber;
    html! {
        @if let (Some(url), false) = (&d.archive_url, archive) {
            p class="m" style="text-align:right;margin:0" { a href=(url) { "View in browser" } }
        }
        h1 { (d.heading()) }
        @if !archive {
            p class="m" { "for " (sub.name) " <" (sub.email.as_str()) ">" }
        }
        @if let Some(status) = d.status_line() {
            p class=(if d.unscored.is_empty() { "note" } else { "note bad" }) { (status) }
        }
        @if let Some(note) = d.unread_note() {
            p class="note bad" { (note) }
        }
        @if let Some(note) = d.scorer_note() {
            p class="note kw" { (note) }
        }
        @if let Some(note) = d.taught_line() {
            p class="note" { (note) }
        }
        @if !d.entries.is_empty() || !d.unscored.is_empty() {
            p class="m" { (d.totals_line()) }
        }
    }
}

/// The papers after the top picks: the followed authors' section, the full cards, and one line
/// each for the rest; `full` cards keep their whole abstract, the others `keep` characters.
fn sections(d: &Digest, full: usize, keep: usize) -> Markup {
    // The top picks are shown first, as cards, and not again.
    let picks: Vec<usize> = d.top_picks().iter().map(|(n, _)| *n).collect();
    let parts: Vec<_> = d
        .parts()
        .into_iter()
        .filter(|(n, _, _)| !picks.contains(n))
        .collect();
    let followed: Vec<_> = parts
        .iter()
        .filter(|(_, _, p)| *p == Part::Followed)
        .collect();
    let lines: Vec<_> = parts.iter().filter(|(_, _, p)| *p == Part::Line).collect();
    html! {
        @if !followed.is_empty() {
            hr;
            h2 id="followed" { "From authors you follow (" (followed.len()) ")" }
            @for (n, e, _) in followed { (cards::followed(d, *n, e)) }
        }
        @for (heading, members) in d.card_groups() {
            @if let Some(h) = heading {
                hr;
                h2 class="grp" { (h) " (" (members.len()) ")" }
            }
            @for (n, e) in members {
                (cards::full(d, n, e, (n > full).then_some(keep)))
            }
        }
        @if let Some((first, _, _)) = lines.first() {
            hr;
            h2 id="also" { (lines.len()) " more, in a line each" }
            ol start=(first) {
                @for (n, e, _) in &lines { (cards::line(d, *n, e)) }
            }
        }
    }
}

/// What the digest's scoring cost (the model's tokens and dollars), at the end.
fn usage(d: &Digest) -> Markup {
    html! {
        @if !d.usage.is_empty() {
            div class="m" {
                p style="font-weight:600;margin-top:14px" {
                    "What scoring " (if d.since.is_some() { "this week's papers" } else { "today's papers" }) " cost"
                }
                table class="u" {
                    tr {
                        th scope="col" { "Model" }
                        th scope="col" { "Prompt" }
                        th scope="col" { "Completion" }
                        th scope="col" { "Total" }
                        th scope="col" { "Cost" }
                    }
                    @for u in &d.usage {
                        tr {
                            th scope="row" style="font-weight:normal" { (u.model) }
                            td { (thousands(u.prompt_tokens)) }
                            td { (thousands(u.completion_tokens)) }
                            td { (thousands(u.prompt_tokens + u.completion_tokens)) }
                            td { (u.cost.with_unknown(u.unpriced_calls, u.calls)) }
                        }
                    }
                }
            }
        }
    }
}

fn more(d: &Digest) -> Markup {
    html! {
        @if !d.more.is_empty() {
            hr;
            h2 id="more" { (d.more.len()) " more that passed your thresholds" }
            p class="m" { "Past your limit of " (d.subscriber.max_papers) " papers a day, best first." }
            ol start=(d.entries.len() + 1) {
                @for e in &d.more { (cards::past_limit(d, e)) }
            }
        }
    }
}

/// Papers still owed to the reader: named, so none vanishes, without the admin's reasons.
fn unscored(d: &Digest) -> Markup {
    html! {
        @if !d.unscored.is_empty() {
            hr;
            h2 id="pending" { "Still being scored (" (d.unscored.len()) ")" }
            p class="m" { "These papers could not be scored in time; they will come in a later digest if they match your topics." }
            ul style="padding-left:20px;margin:0 0 8px" {
                @for u in &d.unscored {
                    li { a href=(u.paper.abs_url()) { (readable(&u.paper.title)) } }
                }
            }
        }
    }
}

fn footer(d: &Digest) -> Markup {
    let sub = &d.subscriber;
    let (topics, cut) = inline::summary(&sub.topics, 240);
    html! {
        hr;
        div class="m" {
            p style="font-weight:600" { "Your selection" }
            @if !topics.is_empty() {
                p {
                    "Topics: " (topics)
                    @if cut && d.reply.is_some() { " (reply \"topics\" for all of them)" }
                }
            }
            @if !sub.authors.is_empty() { p { "Authors you follow: " (sub.authors.join(", ")) } }
            @if !sub.keywords.is_empty() { p { "Keywords: " (sub.keywords.join(", ")) } }
            p { (d.thresholds()) " " (d.scored_by()) "." }
            @match &d.reply {
                Some(r) => {
                    p { "Reply to this email to change your digest, one command per line: \"add topic: sparse attention\", \"follow Yann LeCun\", \"more like 3\", \"less like 5\", \"relevance 8\", \"pause\". Reply \"help\" for every command. Each paper's \"More like this\" and \"Less like this\" links write such a reply for you: click, then Send." }
                    p {
                        "To unsubscribe, "
                        // Short link text: the address itself has no place to break, and a
                        // phone would scroll sideways for it.
                        a href=(cards::mailto_subject(r.unsubscribe.as_ref(), "unsubscribe")) { "write to your unsubscribe address" }
                        " (or reply \"unsubscribe\")."
                    }
                }
                None => p {
                    "To change your topics, authors or thresholds, pause or unsubscribe, write to "
                    a href=(format!("mailto:{}", d.contact)) { (d.contact) } "."
                },
            }
            @if let Some(url) = &d.archive_url { p { a href=(url) { "This digest on the web" } } }
            @if let Some(url) = &d.feed_url {
                p { "Your papers as a feed, for any feed reader: " a href=(url) { "the Atom feed" } }
            }
        }
    }
}
