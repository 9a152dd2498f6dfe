//! One `Digest` value per subscriber and day, and its two views (plain text and HTML) built from
//! the same data.

mod html;
mod page;
mod select;
mod text;

pub use html::{page_shell, render_archive_day, render_html, ArchiveNav, HTML_BUDGET};
pub use page::{Page, StoredPage};
pub use select::{select, Selection};
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
    pub author_match: bool,
    /// The paper's authors this reader follows, as the paper names them.
    pub followed: Vec<String>,
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
    /// A weekly digest: the papers announced after this day (up to `day`).
    pub since: Option<NaiveDate>,
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

    /// The count line under the totals: how many passed and how many are shown.
    pub fn relevant_line(&self) -> String {
        match self.more.len() {
            0 => format!("Total relevant papers: {}", self.entries.len()),
            m => format!(
                "Total relevant papers: {} ({} shown in full; {m} more that passed your thresholds {} listed by title at the end)",
                self.qualified(),
                self.entries.len(),
                if m == 1 { "is" } else { "are" }
            ),
        }
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
        let papers = |n: usize| {
            if n == 1 {
                "1 paper".to_string()
            } else {
                format!("{n} papers")
            }
        };
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
                "Reply to this email to change your digest, one command per line: \"add topic: sparse attention\", \"follow Yann LeCun\", \"more like 3\", \"relevance 8\", \"pause\". Reply \"help\" for every command.".to_string(),
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

    pub fn scorer_note(&self) -> Option<String> {
        self.keyword_scorer.then(|| {
            "Scored by keywords: no model API key is configured, so relevance comes from your keywords and topic words, and novelty is not assessed.".to_string()
        })
    }
}
