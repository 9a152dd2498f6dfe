//! A reader: who gets a digest, about what, with which thresholds. Read from `subscribers.toml`
//! (by `subscribers`), changed by the admin and by replies; everything else only reads it.

use sha2::{Digest as _, Sha256};

use super::{Category, Language, Score, SubscriberEmail, Verdict};
use crate::support::text::hex;

pub const DEFAULT_MIN_RELEVANCE: i64 = 7;
pub const DEFAULT_MIN_NOVELTY: i64 = 6;
pub const DEFAULT_MAX_PAPERS: usize = 50;
/// Papers a digest shows in full (title, scores, TL;DR, verdict, authors, abstract) unless the
/// reader chose another number; the rest that passed get one line each. Ten keeps a 50-paper
/// day's mail within about twelve phone screens.
pub const DEFAULT_FULL_CARDS: usize = 10;
/// The most full cards a reader can ask for.
pub const MAX_FULL_CARDS: usize = 100;
/// "More like" and "less like" examples in a prompt, at most each: the newest.
pub const PROMPT_EXAMPLES: usize = 10;

#[derive(Debug, Clone)]
pub struct Subscriber {
    pub email: SubscriberEmail,
    pub name: String,
    /// Free-text topics (from `topics` or the contents of `topics_file`).
    pub topics: String,
    pub authors: Vec<String>,
    pub keywords: Vec<String>,
    /// A subset of the configured categories; `None` means all of them.
    pub categories: Option<Vec<Category>>,
    pub min_relevance: Score,
    pub min_novelty: Score,
    pub max_papers: usize,
    /// How many of the papers are shown in full (`full_cards`, reply "cards 25").
    pub full_cards: usize,
    /// The full cards under the topic each matches best (`group_by_topic`); `None`: when the
    /// reader has at least [`GROUPING_TOPICS`] topics.
    pub group_by_topic: Option<bool>,
    /// Send a short note on days nothing passes the bar.
    pub send_empty: bool,
    /// The TL;DR's and comments' language (default English).
    pub language: Language,
    /// Every announcement day, or once a week on `weekday` (the first run on or after it).
    pub frequency: Frequency,
    pub paused: bool,
    /// Papers the reader pointed at by reply ("more like 3": `true`, "less like 5": `false`),
    /// by title. Kept in SQLite, not in the file; filled in before scoring.
    pub examples: Vec<(bool, String)>,
}

/// Topics from which a digest groups its full cards by topic, unless the reader chose.
pub const GROUPING_TOPICS: usize = 3;

impl Subscriber {
    /// The reader's topics as short headings: one per line of `topics` that names a topic (list
    /// markers, numbers and "Relevant:" taken off; headings, instructions and what is not
    /// wanted left out).
    pub fn topic_list(&self) -> Vec<String> {
        self.topics
            .lines()
            .map(|l| {
                let t = l.trim().trim_start_matches(['-', '*', '•']).trim_start();
                let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
                let t = match t[digits..].strip_prefix(['.', ')']) {
                    Some(rest) if digits > 0 => rest.trim(),
                    _ => t,
                };
                let t = t.strip_prefix("Relevant:").map_or(t, str::trim);
                t.trim_end_matches(['.', ';']).replace("**", "")
            })
            .filter(|t| {
                let lower = t.to_lowercase();
                let words = t.split_whitespace().count();
                (1..=8).contains(&words)
                    && !t.starts_with('#')
                    && !t.ends_with(':')
                    && !lower.contains("relevan")
            })
            .collect()
    }

    /// Whether the digest groups its full cards by topic.
    pub fn groups_by_topic(&self) -> bool {
        self.group_by_topic
            .unwrap_or_else(|| self.topic_list().len() >= GROUPING_TOPICS)
    }

    /// The reader's own words for the scorer (topics and keywords), shown with the
    /// instructions. Verdicts are cached by [`Subscriber::profile_hash`], so two readers with the
    /// same profile share them, and a change means fresh verdicts.
    pub fn profile_text(&self) -> String {
        let mut p = self.topics.trim().to_string();
        if !self.keywords.is_empty() {
            p.push_str("\n\nKeywords: ");
            p.push_str(&self.keywords.join(", "));
        }
        if !self.language.is_english() {
            p.push_str(&format!(
                "\n\nWrite this reader's COMMENT in {}.",
                self.language.name()
            ));
        }
        p
    }

    /// The papers the reader pointed at by reply ("more like 3"), the newest [`PROMPT_EXAMPLES`]
    /// of each kind: arXiv titles, so data, never
    /// instructions — they go in the message with the papers, quoted. Empty without examples.
    pub fn examples_text(&self) -> String {
        let mut p = String::new();
        for (more, heading) in [
            (true, "Papers this reader wants more of, for example:"),
            (false, "Papers this reader wants fewer of, for example:"),
        ] {
            // The newest few: a prompt carries each reader's examples in every call.
            let mut titles: Vec<&str> = self
                .examples
                .iter()
                .rev()
                .filter(|(m, _)| *m == more)
                .map(|(_, t)| t.as_str())
                .take(PROMPT_EXAMPLES)
                .collect();
            titles.reverse();
            if !titles.is_empty() {
                p.push_str(&format!("{heading}\n"));
                for t in titles {
                    // One line per title, no characters the prompt's layout uses.
                    let t: String = t
                        .chars()
                        .map(|c| if c.is_control() || c == '|' { ' ' } else { c })
                        .collect();
                    p.push_str(&format!("- \"{}\"\n", t.trim()));
                }
            }
        }
        p
    }

    /// Everything about the entry, for the audit trail and `--json` output.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "email": self.email.as_str(),
            "name": self.name,
            "topics": self.topics,
            "authors": self.authors,
            "keywords": self.keywords,
            "categories": self.categories.as_ref().map(|c| c.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
            "min_relevance": self.min_relevance.get(),
            "min_novelty": self.min_novelty.get(),
            "max_papers": self.max_papers,
            "full_cards": self.full_cards,
            "group_by_topic": self.group_by_topic,
            "send_empty": self.send_empty,
            "paused": self.paused,
            "language": self.language.tag(),
            "frequency": match self.frequency { Frequency::Daily => "daily", Frequency::Weekly(_) => "weekly" },
            "weekday": match self.frequency {
                Frequency::Weekly(d) => Some(format!("{d}")),
                Frequency::Daily => None,
            },
        })
    }

    /// Whether `verdict` passes this reader's thresholds (relevance, and novelty when the verdict
    /// has one).
    pub fn passes(&self, verdict: &Verdict) -> bool {
        verdict.relevance >= self.min_relevance
            && verdict.novelty.is_none_or(|n| n >= self.min_novelty)
    }

    pub fn profile_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.profile_text().as_bytes());
        h.update(b"\0examples\0");
        h.update(self.examples_text().as_bytes());
        hex(&h.finalize())[..16].to_string()
    }
}

/// How often a reader gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frequency {
    #[default]
    Daily,
    /// With the first run on or after this weekday, everything since the previous digest.
    Weekly(chrono::Weekday),
}

/// "Fri", "friday", "FR" → Friday.
pub fn parse_weekday(s: &str) -> Option<chrono::Weekday> {
    let l = s.trim().to_lowercase();
    let days = [
        ("mon", chrono::Weekday::Mon),
        ("tue", chrono::Weekday::Tue),
        ("wed", chrono::Weekday::Wed),
        ("thu", chrono::Weekday::Thu),
        ("fri", chrono::Weekday::Fri),
        ("sat", chrono::Weekday::Sat),
        ("sun", chrono::Weekday::Sun),
    ];
    days.iter()
        .find(|(p, _)| l.len() >= 2 && (p.starts_with(&l) || l.starts_with(p)))
        .map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prompt_carries_the_newest_few_examples_of_each_kind() {
        let mut s = crate::domain::testing::subscriber("MoE");
        s.examples = (0..40)
            .map(|n| (n % 3 != 0, format!("Example {n}")))
            .collect();
        let text = s.examples_text();
        assert_eq!(text.matches("- \"").count(), 2 * super::PROMPT_EXAMPLES);
        assert!(text.contains("\"Example 29\"") && text.contains("\"Example 27\""));
        assert!(!text.contains("\"Example 0\"") && !text.contains("\"Example 1\""));
    }
}
