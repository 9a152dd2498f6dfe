//! `subscribers.toml`: who gets a digest, about what, with which thresholds.
//!
//! Loading checks every entry and reports every problem with file, line and key; a file with any
//! problem is refused whole, so a typo never mails the wrong people or the wrong topics.

pub mod admin;
pub mod bibtex;
pub mod edit;
pub mod library;
mod parse;

pub use parse::{load, parse};

use std::fmt;

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
    use crate::domain::{Category, Subscriber, DEFAULT_MAX_PAPERS};
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
    fn counts_outside_their_range_are_named_with_their_line() {
        let p = problems(
            "[[subscriber]]\nemail = \"a@lab.org\"\ntopics = \"x\"\nfull_cards = 500\nmax_papers = 0\n",
        );
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(
            p.iter()
                .any(|m| m.starts_with("subscribers.toml:4: key `full_cards`")
                    && m.contains("500 is outside 0–100")),
            "{p:#?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("subscribers.toml:5: key `max_papers`")
                    && m.contains("0 is outside 1–1000")),
            "{p:#?}"
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
