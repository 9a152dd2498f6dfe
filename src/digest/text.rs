use std::fmt::Write as _;

use super::{Digest, Entry, Part};
use crate::domain::thousands;
use crate::support::tex::readable;
use crate::support::text as inline;

/// Lines wrap at 78 columns; a URL is never broken (it goes on a line of its own when long).
const WIDTH: usize = 78;

/// The plain-text view: readable in any mail client and in a terminal. The same order as the
/// HTML: the top picks (a summary, then in full), the followed authors' papers, the other full
/// entries (under the reader's topics when grouped), a line each for the rest, and what
/// scoring cost at the end.
pub fn render_text(d: &Digest) -> String {
    let mut s = String::new();
    let rule = "-".repeat(WIDTH);
    header(&mut s, d);
    if !d.entries.is_empty() || !d.unscored.is_empty() {
        wrap_into(&mut s, &d.totals_line(), "");
    }
    let picks = d.top_picks();
    if !picks.is_empty() {
        let _ = writeln!(s, "\n{}'s top {}\n", d.period_word(), picks.len());
        for (n, e) in picks {
            wrap_into(
                &mut s,
                &format!("{n:>3}. {}", readable(&e.paper.title)),
                "     ",
            );
            let _ = writeln!(s, "     {}", e.paper.abs_url());
            if let Some(g) = e.gist() {
                wrap_into(&mut s, &format!("     {g}"), "     ");
            }
            if let Some(r) = e.reason_line() {
                wrap_into(&mut s, &format!("     Why: {r}"), "     ");
            }
            if let Some(l) = e.score_label() {
                let _ = writeln!(s, "     (score {l})");
            }
        }
    }
    let parts = d.parts();
    let followed: Vec<_> = parts
        .iter()
        .filter(|(_, _, p)| *p == Part::Followed)
        .collect();
    if !followed.is_empty() {
        let _ = writeln!(
            s,
            "\n{rule}\n\nFrom authors you follow ({})\n",
            followed.len()
        );
        for (n, e, _) in followed {
            followed_entry(&mut s, *n, e);
        }
    }
    // The top picks in full first, then the other cards under the reader's topics (as the
    // HTML groups them).
    let picked: Vec<usize> = d.top_picks().iter().map(|(n, _)| *n).collect();
    for (n, e, _) in parts
        .iter()
        .filter(|(n, _, p)| *p == Part::Full && picked.contains(n))
    {
        let _ = writeln!(s, "\n{rule}\n");
        entry(&mut s, *n, e, d.reply.is_some());
    }
    for (heading, members) in d.card_groups() {
        if let Some(h) = heading {
            let _ = writeln!(s, "\n{rule}\n\n{h} ({})", members.len());
        }
        for (n, e) in members {
            let _ = writeln!(s, "\n{rule}\n");
            entry(&mut s, n, e, d.reply.is_some());
        }
    }
    let lines: Vec<_> = parts.iter().filter(|(_, _, p)| *p == Part::Line).collect();
    if !lines.is_empty() {
        let _ = writeln!(s, "\n{rule}\n\n{} more, in a line each\n", lines.len());
        for (n, e, _) in lines {
            one_line(&mut s, *n, e);
        }
    }
    if !d.more.is_empty() {
        let _ = writeln!(s, "\n{rule}\n");
        more(&mut s, d);
    }
    if !d.unscored.is_empty() {
        let _ = writeln!(s, "\n{rule}\n");
        unscored(&mut s, d);
    }
    let _ = writeln!(s, "\n{rule}\n");
    footer(&mut s, d);
    usage(&mut s, d);
    s
}

/// The heading, the reader, and the status line and notes when there are any.
fn header(s: &mut String, d: &Digest) {
    let _ = writeln!(s, "{}", d.heading());
    let _ = writeln!(s, "for {} <{}>\n", d.subscriber.name, d.subscriber.email);
    if let Some(status) = d.status_line() {
        wrap_into(s, &status, "");
        s.push('\n');
    }
    for note in [d.unread_note(), d.scorer_note(), d.taught_line()]
        .into_iter()
        .flatten()
    {
        wrap_into(s, &note, "");
        s.push('\n');
    }
}

/// The table of the model's tokens and cost, when the model was used.
fn usage(s: &mut String, d: &Digest) {
    if d.usage.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nWhat scoring {} cost\n",
        if d.since.is_some() {
            "this week's papers"
        } else {
            "today's papers"
        }
    );
    let _ = writeln!(
        s,
        "{:<16} {:>10} {:>11} {:>10} {:>10}",
        "Model", "Prompt", "Completion", "Total", "Cost"
    );
    for u in &d.usage {
        let cost = u.cost.with_unknown(u.unpriced_calls, u.calls);
        let _ = writeln!(
            s,
            "{:<16} {:>10} {:>11} {:>10} {:>10}",
            u.model,
            thousands(u.prompt_tokens),
            thousands(u.completion_tokens),
            thousands(u.prompt_tokens + u.completion_tokens),
            cost
        );
    }
    s.push('\n');
}

/// Entry number `n` in full: title, links, score and reason, TL;DR, id, verdict, authors and
/// abstract.
fn entry(s: &mut String, n: usize, e: &Entry, teach: bool) {
    wrap_into(s, &format!("{n}. {}", readable(&e.paper.title)), "   ");
    let _ = writeln!(s, "   {}", e.paper.abs_url());
    if let Some(mark) = e.paper.announce_mark() {
        let _ = writeln!(s, "   ({mark})");
    }
    s.push('\n');
    let why: Vec<String> = [
        e.score_label().map(|l| format!("Score {l}")),
        e.reason_label(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !why.is_empty() {
        wrap_into(s, &why.join(" · "), "  ");
    }
    if let Some(t) = e.verdict.as_ref().and_then(|v| v.tldr.as_deref()) {
        wrap_into(s, &format!("TL;DR: {}", inline::plain(t)), "       ");
        s.push('\n');
    }
    id_line(s, "", e);
    let _ = writeln!(s, "PDF: {}", e.paper.pdf_url());
    verdict(s, e);
    let authors: Vec<String> = e
        .paper
        .authors
        .iter()
        .map(|a| {
            if e.followed.contains(a) {
                format!("{a} (followed)")
            } else {
                a.clone()
            }
        })
        .collect();
    wrap_into(s, &format!("Authors: {}", authors.join(", ")), "  ");
    s.push('\n');
    wrap_into(
        s,
        &format!("Abstract: {}", readable(&e.paper.abstract_text)),
        "",
    );
    if teach {
        let _ = writeln!(
            s,
            "\nMore or less like this: reply \"more like {n}\" or \"less like {n}\"."
        );
    }
}

/// "ArXiv ID: 2503.21419" or "bioRxiv DOI: 10.1101/…".
fn id_line(s: &mut String, indent: &str, e: &Entry) {
    let _ = match e.paper.source {
        crate::domain::Source::Arxiv => writeln!(s, "{indent}ArXiv ID: {}", e.paper.id),
        source => writeln!(s, "{indent}{} DOI: {}", source.name(), e.paper.id),
    };
    if let Some(day) = e.announced {
        let _ = writeln!(s, "{indent}Announced: {}", day.format("%a %-d %b %Y"));
    }
}

/// A followed author's paper: who, with whom, TL;DR and verdict.
fn followed_entry(s: &mut String, n: usize, e: &Entry) {
    wrap_into(s, &format!("{n:>3}. {}", readable(&e.paper.title)), "     ");
    let _ = writeln!(s, "     {}", e.paper.abs_url());
    id_line(s, "     ", e);
    let co = e.co_authors();
    let mut who = format!("     {} (followed)", e.followed.join(", "));
    if !co.is_empty() {
        let names: Vec<&str> = co.iter().take(6).map(|a| a.as_str()).collect();
        who.push_str(&format!(" with {}", names.join(", ")));
        if co.len() > 6 {
            who.push_str(&format!(" and {} more", co.len() - 6));
        }
    }
    wrap_into(s, &who, "     ");
    if let Some(note) = e.namesake_note() {
        wrap_into(s, &format!("     {note}"), "     ");
    }
    if let Some(g) = e.gist() {
        wrap_into(s, &format!("     {g}"), "     ");
    }
    if let Some(l) = e.score_label() {
        let _ = writeln!(s, "     (score {l})");
    }
    s.push('\n');
}

/// One line (wrapped): number, title, score, TL;DR.
fn one_line(s: &mut String, n: usize, e: &Entry) {
    let notes: Vec<String> = e
        .score_label()
        .into_iter()
        .chain(e.announced_label())
        .collect();
    let score = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(" · "))
    };
    wrap_into(
        s,
        &format!("{n:>3}. {}{score}", readable(&e.paper.title)),
        "     ",
    );
    let _ = writeln!(s, "     {}", e.paper.abs_url());
    if let Some(g) = e.gist() {
        wrap_into(s, &format!("     {g}"), "     ");
    }
}

/// The entry's scores and comment, or the followed authors it was picked for.
fn verdict(s: &mut String, e: &Entry) {
    match &e.verdict {
        None => wrap_into(
            s,
            &format!("Comment: Author match ({})", e.followed.join(", ")),
            "  ",
        ),
        Some(v) => {
            let novelty = v
                .novelty
                .map_or("not assessed".to_string(), |n| n.to_string());
            let _ = writeln!(s, "Relevance: {}   Novelty: {}", v.relevance, novelty);
            if !v.comment.trim().is_empty() {
                wrap_into(s, &format!("Comment: {}", inline::plain(&v.comment)), "");
            }
        }
    }
}

/// The papers past the reader's limit: numbered on from the entries, title, link and scores.
fn more(s: &mut String, d: &Digest) {
    let _ = writeln!(
        s,
        "{} more that passed your thresholds (past your limit of {} a day)\n",
        d.more.len(),
        d.subscriber.max_papers
    );
    for (i, e) in d.more.iter().enumerate() {
        let n = format!("{:>3}. ", d.entries.len() + i + 1);
        wrap_into(s, &format!("{n}{}", readable(&e.paper.title)), "     ");
        let _ = writeln!(s, "     {} ({})", e.paper.abs_url(), scores(e));
    }
}

/// The papers not scored in time, which a later digest may bring.
fn unscored(s: &mut String, d: &Digest) {
    let _ = writeln!(s, "Still being scored ({})\n", d.unscored.len());
    wrap_into(
        s,
        "These papers could not be scored in time; they will come in a later digest if they match your topics.",
        "",
    );
    s.push('\n');
    for u in &d.unscored {
        wrap_into(
            s,
            &format!("- {} ({})", readable(&u.paper.title), u.paper.abs_url()),
            "  ",
        );
    }
}

fn footer(s: &mut String, d: &Digest) {
    let sub = &d.subscriber;
    let _ = writeln!(s, "Your selection");
    let (topics, _) = inline::summary(&sub.topics, 240);
    if !topics.is_empty() {
        wrap_into(s, &format!("Topics: {topics}"), "  ");
    }
    if !sub.authors.is_empty() {
        wrap_into(
            s,
            &format!("Authors you follow: {}", sub.authors.join(", ")),
            "  ",
        );
    }
    if !sub.keywords.is_empty() {
        wrap_into(s, &format!("Keywords: {}", sub.keywords.join(", ")), "  ");
    }
    wrap_into(s, &format!("{} {}.", d.thresholds(), d.scored_by()), "  ");
    s.push('\n');
    for line in d.how_to_change() {
        wrap_into(s, &line, "");
    }
    if let Some(url) = &d.archive_url {
        let _ = writeln!(s, "\nOn the web:\n{url}");
    }
    if let Some(url) = &d.feed_url {
        let _ = writeln!(
            s,
            "\nYour papers as a feed (Atom, for any feed reader):\n{url}"
        );
    }
}

/// "relevance 9, novelty 7", or who was followed.
fn scores(e: &Entry) -> String {
    match &e.verdict {
        None => format!("author match: {}", e.followed.join(", ")),
        Some(v) => match v.novelty {
            Some(n) => format!("relevance {}, novelty {n}", v.relevance),
            None => format!("relevance {}", v.relevance),
        },
    }
}

/// Appends `text` wrapped at WIDTH; the first line keeps `text`'s own indentation, continuation
/// lines are prefixed by `indent`.
fn wrap_into(out: &mut String, text: &str, indent: &str) {
    let body = text.trim_start();
    let mut line = text[..text.len() - body.len()].to_string();
    let mut empty = true;
    for word in body.split(' ').filter(|w| !w.is_empty()) {
        // Whole words only: a URL longer than the line gets a line of its own, never a break.
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_groups() {
        let mut s = String::new();
        wrap_into(&mut s, &"word ".repeat(40), "  ");
        assert!(s.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(s.lines().nth(1).unwrap().starts_with("  word"));
        let mut s = String::new();
        wrap_into(&mut s, "    indented text", "  ");
        assert_eq!(s, "    indented text\n");
        let url = format!("https://example.org/{}", "a".repeat(90));
        let mut s = String::new();
        wrap_into(&mut s, &format!("Code at {url} and more words"), "");
        assert_eq!(
            s.lines().collect::<Vec<_>>(),
            vec!["Code at", url.as_str(), "and more words"],
            "a long URL stays whole on its own line"
        );
    }
}
