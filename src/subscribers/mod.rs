//! `subscribers.toml`: who gets a digest, about what, with which thresholds.
//!
//! Loading checks every entry and reports every problem with file, line and key; a file with any
//! problem is refused whole, so a typo never mails the wrong people or the wrong topics.

pub mod admin;
pub mod edit;
pub mod library;
mod parse;

pub use parse::{load, parse};

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::domain::{Category, Score, SubscriberEmail};

pub const DEFAULT_MIN_RELEVANCE: i64 = 7;
pub const DEFAULT_MIN_NOVELTY: i64 = 6;
pub const DEFAULT_MAX_PAPERS: usize = 50;

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
    /// Send a short note on days nothing passes the bar.
    pub send_empty: bool,
    /// The TL;DR's and comments' language (default English).
    pub language: crate::domain::Language,
    /// Every announcement day, or once a week on `weekday` (the first run on or after it).
    pub frequency: Frequency,
    pub paused: bool,
    /// Papers the reader pointed at by reply ("more like 3": `true`, "less like 5": `false`),
    /// by title. Kept in SQLite, not in the file; filled in before scoring.
    pub examples: Vec<(bool, String)>,
}

impl Subscriber {
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
                "\n\nWrite this reader's TLDR and COMMENT in {}.",
                self.language.name()
            ));
        }
        p
    }

    /// The papers the reader pointed at by reply ("more like 3"): arXiv titles, so data, never
    /// instructions — they go in the message with the papers, quoted. Empty without examples.
    pub fn examples_text(&self) -> String {
        let mut p = String::new();
        for (more, heading) in [
            (true, "Papers this reader wants more of, for example:"),
            (false, "Papers this reader wants fewer of, for example:"),
        ] {
            let titles: Vec<&str> = self
                .examples
                .iter()
                .filter(|(m, _)| *m == more)
                .map(|(_, t)| t.as_str())
                .collect();
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One problem in the subscribers file: where (file, line, key) and what, like one in the
/// configuration.
pub use crate::config::ConfigProblem as Problem;

#[derive(Debug, thiserror::Error)]
pub struct SubscribersError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for SubscribersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} problem{} in the subscribers file:",
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn known() -> Vec<Category> {
        vec![
            Category::parse("cs.LG").unwrap(),
            Category::parse("cs.AI").unwrap(),
        ]
    }

    fn parse_ok(text: &str) -> Vec<Subscriber> {
        parse(text, "subscribers.toml", Path::new("prompts"), &known()).unwrap()
    }

    #[test]
    fn names_on_one_line_and_addresses_that_cannot_pass_for_another() {
        let p = problems("[[subscriber]]\nemail = \"a@lab.org\"\nname = \"Ada\\nBcc: x@evil.org\"\ntopics = \"t\"\n");
        assert!(p[0].contains("key `name`: has a line break"), "{p:?}");
        let p = problems("[[subscriber]]\nemail = \"ada@lab.org\"\ntopics = \"t\"\n\n[[subscriber]]\nemail = \"ａｄａ@lab.org\"\ntopics = \"t\"\n");
        assert!(
            p[0].contains("listed twice"),
            "a compatibility form is the same address: {p:?}"
        );
        let p = problems("[[subscriber]]\nemail = \"\u{430}da@lab.org\"\ntopics = \"t\"\n");
        assert!(p[0].contains("mixes letters of different scripts"), "{p:?}");
    }

    fn problems(text: &str) -> Vec<String> {
        parse(text, "subscribers.toml", Path::new("prompts"), &known())
            .unwrap_err()
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_full_entry_and_defaults() {
        let subs = parse_ok(
            r#"
# comment
[[subscriber]]
email = "Ada@Lab.org"
name = "Ada"
topics = "Mixture of experts"
authors = ['Bj\"orn Schuller']
keywords = ["MoE"]
categories = ["cs.LG"]
min_relevance = 8

[[subscriber]]
email = "bob@lab.org"
authors = ["Yann LeCun"]
"#,
        );
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].email.as_str(), "ada@lab.org");
        assert_eq!(subs[0].authors, vec!["Björn Schuller"]);
        assert_eq!(subs[0].min_relevance.get(), 8);
        assert_eq!(subs[0].min_novelty.get(), 6);
        assert_eq!(subs[1].name, "bob");
        assert_eq!(subs[1].max_papers, DEFAULT_MAX_PAPERS);
        assert!(subs[1].categories.is_none());
        assert_ne!(subs[0].profile_hash(), subs[1].profile_hash());
    }

    #[test]
    fn examples_from_replies_are_part_of_the_profile() {
        let mut s = parse_ok("[[subscriber]]\nemail = \"a@lab.org\"\ntopics = \"MoE\"\n").remove(0);
        let plain = s.profile_hash();
        s.examples = vec![
            (true, "MoQa: MoE Quantization".into()),
            (false, "RL for robots".into()),
        ];
        let text = s.examples_text();
        assert!(
            text.contains("wants more of, for example:\n- \"MoQa: MoE Quantization\""),
            "{text}"
        );
        assert!(
            text.contains("wants fewer of, for example:\n- \"RL for robots\""),
            "{text}"
        );
        assert!(
            !s.profile_text().contains("MoQa"),
            "titles are data, not instructions"
        );
        assert_ne!(s.profile_hash(), plain, "new examples mean fresh verdicts");
    }

    #[test]
    fn every_problem_is_reported_with_line_and_key() {
        let p = problems(
            r#"[[subscriber]]
email = "not-an-address"
topics = "x"

[[subscriber]]
email = "c@lab.org"
topics = "y"
min_relevance = 11
categories = ["cs.CV"]

[[subscriber]]
email = "C@lab.org"
topics = "z"
"#,
        );
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(
            p[0].starts_with("subscribers.toml:2: key `email`") && p[0].contains("not-an-address"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("subscribers.toml:8: key `min_relevance`") && p[1].contains("11"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("subscribers.toml:9: key `categories`") && p[2].contains("cs.CV"),
            "{}",
            p[2]
        );
        assert!(
            p[3].starts_with("subscribers.toml:12: key `email`") && p[3].contains("twice"),
            "{}",
            p[3]
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_line() {
        let p = problems(
            "[[subscriber]]\nemail = \"a@lab.org\"\ntopics = \"x\"\nmin_novelty = \"high\"\n",
        );
        assert!(p[0].starts_with("subscribers.toml:4"), "{}", p[0]);
        let p = problems("[[subscriber]]\nemail = \"a@lab.org\nname = \"x\"\n");
        assert!(p[0].starts_with("subscribers.toml:2"), "{}", p[0]);
        let p = problems("[[subscriber]]\nemail = \"a@lab.org\"\ntopic = \"x\"\n");
        assert!(p[0].contains("topic"), "{}", p[0]);
    }

    #[test]
    fn topics_file_is_read_from_the_prompts_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ml.md"), "Sparse attention\n").unwrap();
        let subs = parse(
            "[[subscriber]]\nemail = \"a@lab.org\"\ntopics_file = \"ml.md\"\n",
            "s.toml",
            dir.path(),
            &known(),
        )
        .unwrap();
        assert_eq!(subs[0].topics, "Sparse attention");
        let err = parse(
            "[[subscriber]]\nemail = \"a@lab.org\"\ntopics_file = \"../etc/passwd\"\n",
            "s.toml",
            dir.path(),
            &known(),
        )
        .unwrap_err();
        assert_eq!(err.problems[0].line, Some(3));
    }
}
