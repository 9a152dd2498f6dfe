//! One `Digest` value per subscriber and day, and its two views (plain text and HTML) built from
//! the same data.

mod html;
mod page;
mod select;
mod text;

mod cards;

pub use html::{page_shell, render_archive_day, render_html, ArchiveNav, SENT_BUDGET};
pub use page::{Page, StoredPage};
pub use select::{mark_namesakes, select, Selection};
pub use text::render_text;

use chrono::NaiveDate;

use crate::domain::Subscriber;
use crate::domain::{Paper, Verdict};
use crate::store::spend::Totals;

#[derive(Debug, Clone)]
pub struct Entry {
    pub paper: Paper,
    /// `None` for author matches (not sent to the scorer).
    pub verdict: Option<Verdict>,
    /// Where it stands for the reader and why (papers with a verdict).
    pub rank: Option<crate::scoring::rank::Rank>,
    pub author_match: bool,
    /// The paper's authors this reader follows, as the paper names them.
    pub followed: Vec<String>,
    /// Of `followed`, those whose co-authors here never appear in the reader's library: possibly
    /// another person of the same name.
    pub namesakes: Vec<String>,
    /// The day it was announced, in a weekly digest (a daily one's are all the digest's day).
    pub announced: Option<chrono::NaiveDate>,
}

/// Papers at the top of the mail, each with its TL;DR and why it is there: the day's decision
/// on the first screen.
pub const TOP_PICKS: usize = 5;

/// How an entry is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A card with everything.
    Full,
    /// A paper by an author the reader follows: a short card in its own section.
    Followed,
    /// One line with its TL;DR.
    Line,
}

impl Entry {
    /// The score as shown ("8.6"), or the verdict's integers when there is no rank.
    pub fn score_label(&self) -> Option<String> {
        match (&self.rank, &self.verdict) {
            (Some(r), _) => Some(r.shown()),
            (None, Some(v)) => Some(match v.novelty {
                Some(n) => format!("relevance {} · novelty {n}", v.relevance),
                None => format!("relevance {}", v.relevance),
            }),
            (None, None) => None,
        }
    }

    /// Why the paper is here, in the reader's own words: "matches: MoE quantization".
    pub fn reason_label(&self) -> Option<String> {
        self.rank
            .as_ref()
            .and_then(|r| r.reason.as_deref())
            .map(|r| format!("matches: {}", crate::support::text::plain(r)))
    }

    /// Why the paper is here, in one line: the model's comment cut to its first sentence (when
    /// the TL;DR, not the comment, is the paper's gist), else the reader's topic it matches.
    pub fn reason_line(&self) -> Option<String> {
        let v = self.verdict.as_ref()?;
        let has_tldr = v.tldr.as_deref().is_some_and(|t| !t.trim().is_empty());
        has_tldr
            .then(|| {
                crate::support::text::first_sentence(&crate::support::text::plain(&v.comment), 200)
            })
            .flatten()
            .or_else(|| self.reason_label())
    }

    /// The paper in a sentence: its TL;DR, else the start of the model's comment.
    pub fn gist(&self) -> Option<String> {
        let v = self.verdict.as_ref()?;
        if let Some(t) = v.tldr.as_deref().filter(|t| !t.trim().is_empty()) {
            return Some(crate::support::text::plain(t));
        }
        let comment = crate::support::text::plain(&v.comment);
        match crate::support::text::shortened(&comment, 160) {
            Some(head) => Some(format!("{head} …")),
            None => (!comment.is_empty()).then_some(comment),
        }
    }

    /// The paper's authors other than the followed ones (for a followed author's card).
    /// "announced Tue 25 Mar", in a weekly digest.
    pub fn announced_label(&self) -> Option<String> {
        self.announced
            .map(|d| format!("announced {}", d.format("%a %-d %b")))
    }

    /// "Possibly another H. Okonkwo: none of the co-authors is in your library", when a
    /// followed name may be a namesake.
    pub fn namesake_note(&self) -> Option<String> {
        (!self.namesakes.is_empty()).then(|| {
            format!(
                "Possibly another {}: none of the co-authors is in your library.",
                self.namesakes.join(" / ")
            )
        })
    }

    pub fn co_authors(&self) -> Vec<&String> {
        self.paper
            .authors
            .iter()
            .filter(|a| !self.followed.contains(a))
            .collect()
    }
}

/// Cards under a heading (one of the reader's topics, or "Other papers"; `None` when the
/// digest is not grouped), each with its number.
pub type CardGroup<'e> = (Option<String>, Vec<(usize, &'e Entry)>);

/// "1 paper", "3 papers".
fn papers(n: usize) -> String {
    if n == 1 {
        "1 paper".to_string()
    } else {
        format!("{n} papers")
    }
}

#[derive(Debug, Clone)]
pub struct Unscored {
    pub paper: Paper,
    pub reason: crate::domain::problem::Problem,
}

#[derive(Debug, Clone)]
pub struct Digest {
    pub day: NaiveDate,
    pub subscriber: Subscriber,
    /// The sources the reader reads (arXiv, bioRxiv, medRxiv), for the subject and heading.
    pub sources: Vec<crate::domain::Source>,
    /// Those of them that could not be read this run (their papers come in a later digest).
    pub unread: Vec<crate::domain::Source>,
    /// In digest order; the number shown for an entry is its position + 1.
    pub entries: Vec<Entry>,
    /// Passed the thresholds but past `max_papers`: listed by title at the end.
    pub more: Vec<Entry>,
    pub usage: Vec<Totals>,
    /// Papers in the day's announcement (all types, all configured categories).
    pub total_papers: usize,
    /// Papers considered for this subscriber.
    pub scanned: usize,
    pub unscored: Vec<Unscored>,
    /// The model that scored the papers (its name only, never its endpoint).
    pub model: String,
    pub keyword_scorer: bool,
    /// Where to write to change the subscription.
    pub contact: String,
    /// The subscriber's reply and unsubscribe addresses, when paperboy reads replies.
    pub reply: Option<crate::domain::ReplyAddresses>,
    /// This day's page in the reader's web archive, when `[archive] base_url` is set.
    pub archive_url: Option<String>,
    /// The reader's Atom feed, when `[archive] base_url` is set.
    pub feed_url: Option<String>,
    /// A weekly digest: the papers announced after this day (up to `day`).
    pub since: Option<NaiveDate>,
    /// What the reader taught since their last digest (clicks get no answer of their own: this
    /// digest is it).
    pub taught: crate::store::inbox::Taught,
}

impl Digest {
    /// The digest rendered for mail: both views and the headers that come from it.
    pub fn to_mail(&self) -> crate::mail::message::DigestMail {
        crate::mail::message::DigestMail {
            to: lettre::message::Mailbox::new(
                Some(self.subscriber.name.clone()),
                self.subscriber.email.to_address(),
            ),
            subject: self.subject(),
            day: self.day,
            text: render_text(self),
            html: render_html(self),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Papers that passed (author matches included), shown in full or listed at the end.
    pub fn qualified(&self) -> usize {
        self.entries.len() + self.more.len()
    }

    /// Each entry with its number (as replies name it) and how it is shown, in digest order:
    /// the reader's best `full_cards` in full, then the followed authors' papers, then one line each.
    pub fn parts(&self) -> Vec<(usize, &Entry, Part)> {
        let mut scored = 0;
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let part = if e.author_match {
                    Part::Followed
                } else {
                    scored += 1;
                    if scored <= self.subscriber.full_cards {
                        Part::Full
                    } else {
                        Part::Line
                    }
                };
                (i + 1, e, part)
            })
            .collect()
    }

    /// The day in one line: "58 of 145 passed your thresholds; 25 in full below."
    pub fn totals_line(&self) -> String {
        let parts = self.parts();
        let full = parts.iter().filter(|(_, _, p)| *p == Part::Full).count();
        let followed = parts
            .iter()
            .filter(|(_, _, p)| *p == Part::Followed)
            .count();
        let scored = self.qualified() - followed;
        let when = self.period_word().to_lowercase();
        let mut s = if self.scanned == self.total_papers {
            format!(
                "{scored} of the {} new {} papers {when} passed your thresholds",
                self.scanned,
                self.sources_label()
            )
        } else {
            format!(
                "{scored} of the {} papers in your categories passed your thresholds ({} new {} papers {when})",
                self.scanned,
                self.total_papers,
                self.sources_label()
            )
        };
        if scored > 0 {
            s.push_str(&format!("; {full} in full below"));
        }
        if followed > 0 {
            s.push_str(&format!("; {followed} by authors you follow"));
        }
        if !self.unscored.is_empty() {
            s.push_str(&format!("; {} still being scored", self.unscored.len()));
        }
        s.push('.');
        s
    }

    /// The full cards after the top picks (which are shown first and not again), under their
    /// headings: see [`Digest::group_by_topic`]. One group without a heading when the digest
    /// is not grouped.
    pub fn card_groups(&self) -> Vec<CardGroup<'_>> {
        let picks: Vec<usize> = self.top_picks().iter().map(|(n, _)| *n).collect();
        let cards = self
            .parts()
            .into_iter()
            .filter(|(n, _, p)| *p == Part::Full && !picks.contains(n))
            .map(|(n, e, _)| (n, e))
            .collect();
        let groups = self.group_by_topic(cards);
        let grouped = groups.iter().any(|(t, _)| t.is_some());
        groups
            .into_iter()
            .map(|(t, m)| {
                (
                    grouped.then(|| t.unwrap_or_else(|| "Other papers".into())),
                    m,
                )
            })
            .collect()
    }

    /// `cards` under the reader's topic each matches best (the share of the topic's words its
    /// title and abstract use, at least half), in the order of each group's best paper; the
    /// rest under `None`, last. One group of all of them, under `None`, when the reader does
    /// not group by topic.
    fn group_by_topic<'e>(&self, cards: Vec<(usize, &'e Entry)>) -> Vec<CardGroup<'e>> {
        use crate::support::text::stems;
        if !self.subscriber.groups_by_topic() {
            return vec![(None, cards)];
        }
        let topics: Vec<(String, std::collections::HashSet<String>)> = self
            .subscriber
            .topic_list()
            .into_iter()
            .map(|t| {
                let s = stems(&t);
                (t, s)
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let mut groups: Vec<CardGroup> = Vec::new();
        for (n, e) in cards {
            let have = stems(&format!("{}\n{}", e.paper.title, e.paper.abstract_text));
            let best = topics
                .iter()
                .map(|(t, s)| (t, s.intersection(&have).count() as f32 / s.len() as f32))
                .filter(|(_, share)| *share >= 0.5)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(t, _)| t.clone());
            match groups.iter_mut().find(|(t, _)| *t == best) {
                Some((_, list)) => list.push((n, e)),
                None => groups.push((best, vec![(n, e)])),
            }
        }
        // "Other papers" last.
        groups.sort_by_key(|(t, _)| t.is_none());
        groups
    }

    /// "Today" or "This week", for headings.
    pub fn period_word(&self) -> &'static str {
        if self.since.is_some() {
            "This week"
        } else {
            "Today"
        }
    }

    /// The best scored papers, for the top of the mail.
    pub fn top_picks(&self) -> Vec<(usize, &Entry)> {
        self.parts()
            .into_iter()
            .filter(|(_, _, p)| *p != Part::Followed)
            .take(TOP_PICKS)
            .map(|(n, e, _)| (n, e))
            .collect()
    }

    /// The reader's thresholds as the footer states them (no novelty bar when it is not judged).
    pub fn thresholds(&self) -> String {
        let s = &self.subscriber;
        if self.keyword_scorer {
            format!(
                "Thresholds: relevance ≥ {}, at most {} papers.",
                s.min_relevance, s.max_papers
            )
        } else {
            format!(
                "Thresholds: relevance ≥ {}, novelty ≥ {}, at most {} papers.",
                s.min_relevance, s.min_novelty, s.max_papers
            )
        }
    }

    /// Who scored the papers, for the footer: the model's name, never where it runs.
    pub fn scored_by(&self) -> String {
        if self.keyword_scorer {
            "Scored by keywords (no model is configured)".to_string()
        } else {
            format!("Scored by {}", self.model)
        }
    }

    /// "arXiv", "bioRxiv", "arXiv and bioRxiv", "arXiv, bioRxiv and medRxiv".
    pub fn sources_label(&self) -> String {
        let names: Vec<&str> = if self.sources.is_empty() {
            vec!["arXiv"]
        } else {
            self.sources.iter().map(|s| s.name()).collect()
        };
        match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    pub fn subject(&self) -> String {
        let date = self.day.format("%a %-d %b %Y");
        let kind = if self.since.is_some() {
            format!("{} weekly digest", self.sources_label())
        } else {
            format!("{} digest", self.sources_label())
        };
        let n = self.qualified();
        let unscored = self.unscored.len();
        match (n, unscored) {
            (0, 0) => format!("{kind} {date}: nothing matched ({} scanned)", self.scanned),
            (0, u) => format!("{kind} {date}: {} still being scored", papers(u)),
            (n, 0) => format!("{kind} {date}: {}", papers(n)),
            (n, u) => format!("{kind} {date}: {} ({} still being scored)", papers(n), u),
        }
    }

    pub fn heading(&self) -> String {
        match self.since {
            Some(since) => format!(
                "Personalized Weekly {} Papers — {} to {}",
                self.sources_label(),
                (since + chrono::Duration::days(1)).format("%A, %-d %B"),
                self.day.format("%A, %-d %B %Y")
            ),
            None => format!(
                "Personalized Daily {} Papers — {}",
                self.sources_label(),
                self.day.format("%A, %-d %B %Y")
            ),
        }
    }

    /// The sentence that explains an empty or partial day; `None` on an ordinary day.
    pub fn status_line(&self) -> Option<String> {
        let s = &self.subscriber;
        let bar = if self.keyword_scorer {
            format!("relevance ≥ {}", s.min_relevance)
        } else {
            format!(
                "relevance ≥ {} and novelty ≥ {}",
                s.min_relevance, s.min_novelty
            )
        };
        match (self.entries.is_empty(), self.unscored.len()) {
            (true, 0) if self.scanned == 0 => Some("No new papers in your categories today.".into()),
            (true, 0) => Some(format!(
                "Nothing passed your bar today: {} papers scanned, none at {bar}.",
                self.scanned
            )),
            (_, 0) => None,
            (_, u) => Some(format!(
                "{u} of {} papers are still being scored; they are listed at the end and will come in a later digest.",
                self.scanned
            )),
        }
    }

    /// How to change the subscription (the footer's last lines).
    pub fn how_to_change(&self) -> Vec<String> {
        match &self.reply {
            Some(r) => vec![
                "Reply to this email to change your digest, one command per line: \"add topic: sparse attention\", \"follow Yann LeCun\", \"more like 3\", \"less like 5\", \"relevance 8\", \"pause\". Reply \"help\" for every command. \"more like 3\" and \"less like 5\" teach your ranking: papers like those move up or down from the next digest on.".to_string(),
                format!("To unsubscribe, reply \"unsubscribe\" or write to {}.", r.unsubscribe),
            ],
            None => vec![format!(
                "To change your topics, authors or thresholds, or to pause, write to {}.",
                self.contact
            )],
        }
    }

    /// Says which of the reader's sources could not be read, so a missing part never looks
    /// like a quiet day.
    pub fn unread_note(&self) -> Option<String> {
        let names: Vec<&str> = self.unread.iter().map(|s| s.name()).collect();
        match names.as_slice() {
            [] => None,
            [one] => Some(format!(
                "{one} could not be read today; its new papers will come in your next digest."
            )),
            many => Some(format!(
                "{} could not be read today; their new papers will come in your next digest.",
                many.join(" and ")
            )),
        }
    }

    /// "Since your last digest you asked for more like 2 papers and less like 1: learned, …",
    /// when the reader taught anything.
    pub fn taught_line(&self) -> Option<String> {
        let t = self.taught;
        let said = match (t.more, t.less) {
            (0, 0) => return None,
            (m, 0) => format!("more like {}", papers(m)),
            (0, l) => format!("less like {}", papers(l)),
            (m, l) => format!("more like {} and less like {}", papers(m), papers(l)),
        };
        let learned = self
            .entries
            .iter()
            .chain(&self.more)
            .any(|e| e.rank.as_ref().is_some_and(|r| r.learned.is_some()));
        Some(if learned {
            format!(
                "Since your last digest you asked for {said}: learned — today's order counts them."
            )
        } else {
            format!("Since your last digest you asked for {said}: kept — they will count once paperboy ranks by meaning.")
        })
    }

    pub fn scorer_note(&self) -> Option<String> {
        self.keyword_scorer.then(|| {
            "Scored by keywords: no model is configured, so relevance comes from your keywords and topic words, and novelty is not assessed.".to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing;

    fn digest(sub: Subscriber, papers: &[(&str, &str)]) -> Digest {
        let entries = papers
            .iter()
            .map(|(id, title)| Entry {
                paper: Paper {
                    title: title.to_string(),
                    ..testing::paper(id)
                },
                verdict: None,
                rank: None,
                author_match: false,
                followed: vec![],
                namesakes: vec![],
                announced: None,
            })
            .collect();
        Digest {
            day: NaiveDate::from_ymd_opt(2025, 3, 28).unwrap(),
            subscriber: sub,
            sources: vec![],
            unread: vec![],
            entries,
            more: vec![],
            usage: vec![],
            total_papers: 3,
            scanned: 3,
            unscored: vec![],
            model: "m".into(),
            keyword_scorer: false,
            contact: String::new(),
            reply: None,
            archive_url: None,
            feed_url: None,
            since: None,
            taught: Default::default(),
        }
    }

    /// With three topics or more the cards go under the topic each matches best, in the order
    /// of each group's best paper, the unmatched last; a reader can turn it off.
    #[test]
    fn cards_are_grouped_by_the_topic_they_match_best() {
        let mut sub = testing::subscriber(
            "## My topics\n- MoE quantization\n- Sparse attention\n- Protein models\nIrrelevant: surveys\n",
        );
        assert_eq!(
            sub.topic_list(),
            ["MoE quantization", "Sparse attention", "Protein models"]
        );
        let d = digest(
            sub.clone(),
            &[
                ("2503.00001", "Sparse attention for long contexts"),
                ("2503.00002", "Quantized MoE layers"),
                ("2503.00003", "A survey of something else"),
                ("2503.00004", "Block-sparse attention kernels"),
            ],
        );
        let cards: Vec<(usize, &Entry)> = d
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i + 1, e))
            .collect();
        let groups: Vec<(Option<String>, Vec<usize>)> = d
            .group_by_topic(cards.clone())
            .into_iter()
            .map(|(t, m)| (t, m.into_iter().map(|(n, _)| n).collect()))
            .collect();
        assert_eq!(
            groups,
            vec![
                (Some("Sparse attention".to_string()), vec![1, 4]),
                (Some("MoE quantization".to_string()), vec![2]),
                (None, vec![3]),
            ]
        );
        sub.group_by_topic = Some(false);
        let d = digest(sub, &[("2503.00001", "Sparse attention")]);
        let cards: Vec<(usize, &Entry)> = d.entries.iter().map(|e| (1, e)).collect();
        assert_eq!(d.group_by_topic(cards).len(), 1);
    }
}
