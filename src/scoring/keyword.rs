//! The scorer used without a model: the reader's keywords and the words of their topics, matched
//! against title and abstract. It judges relevance only; novelty is left unassessed.

use std::collections::BTreeSet;

use crate::domain::Subscriber;
use crate::domain::{Paper, Score, Verdict};

pub const MODEL: &str = "keyword";
pub const VERSION: &str = "keyword-v4";
const TOPIC_POINTS_CAP: u32 = 4;

const STOPWORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "also",
    "analysis",
    "approach",
    "approaches",
    "area",
    "avoid",
    "based",
    "beyond",
    "both",
    "broad",
    "cases",
    "certain",
    "core",
    "data",
    "deep",
    "different",
    "domain",
    "each",
    "eventually",
    "etc",
    "existing",
    "extends",
    "filter",
    "focus",
    "from",
    "general",
    "have",
    "including",
    "into",
    "irrelevant",
    "keep",
    "known",
    "lacking",
    "learning",
    "like",
    "main",
    "major",
    "merely",
    "method",
    "methods",
    "model",
    "models",
    "more",
    "most",
    "network",
    "networks",
    "new",
    "novel",
    "only",
    "other",
    "over",
    "papers",
    "paper",
    "primary",
    "purely",
    "relevant",
    "research",
    "should",
    "significant",
    "some",
    "standard",
    "such",
    "than",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "topics",
    "towards",
    "under",
    "using",
    "usage",
    "very",
    "well",
    "what",
    "when",
    "where",
    "which",
    "while",
    "with",
    "without",
    "work",
    "would",
    "your",
];

/// Terms drawn from a subscriber's profile: keyword phrases (strong) and topic words (weak).
pub struct Terms {
    keywords: Vec<String>,
    topic_words: BTreeSet<String>,
    /// Authors the readers of the profile follow: their papers always get a verdict.
    authors: Vec<String>,
}

impl Terms {
    pub fn of(subscriber: &Subscriber) -> Terms {
        // "Mixture of Experts (MoE)" and "Sparse/Sparsity" name alternatives: each counts.
        let keywords = subscriber
            .keywords
            .iter()
            .flat_map(|k| k.split(['/', '(', ')']))
            .map(normalise)
            .filter(|k| !k.is_empty())
            .collect();
        // Lines that say what is *not* wanted ("- Irrelevant: ...") give no topic words.
        let wanted: String = subscriber
            .topics
            .lines()
            .filter(|l| !l.to_lowercase().contains("irrelevant"))
            .collect::<Vec<_>>()
            .join("\n");
        let topic_words = words(&wanted)
            .into_iter()
            .filter(|w| w.chars().count() >= 4 && !STOPWORDS.contains(&w.as_str()))
            .collect();
        Terms {
            keywords,
            topic_words,
            authors: subscriber.authors.clone(),
        }
    }

    /// These terms, also keeping the papers of `authors` (every reader of a shared profile's).
    pub fn with_authors(mut self, authors: impl IntoIterator<Item = String>) -> Terms {
        self.authors.extend(authors);
        self.authors.sort();
        self.authors.dedup();
        self
    }
}

impl Terms {
    /// Strong evidence that the reader wants a careful look, used to keep a paper past the title
    /// triage without asking: an author they follow, one of their keywords in the title, or two
    /// in the abstract.
    pub fn must_look(&self, paper: &Paper) -> bool {
        self.why_look(paper).is_some()
    }

    /// [`Terms::must_look`] on a paper's text normalised once for the run (a day's papers are
    /// read against every reader's terms).
    pub fn must_look_in(&self, paper: &Paper, text: &Normalised) -> bool {
        self.why_look_in(paper, text).is_some()
    }

    /// Two points for one of the reader's keywords in the title, one for one in the abstract.
    pub fn keyword_points(&self, paper: &Paper) -> i64 {
        let title = format!(" {} ", normalise(&paper.title));
        let abstract_text = format!(" {} ", normalise(&paper.abstract_text));
        let needles = || self.keywords.iter().map(|k| format!(" {k} "));
        if needles().any(|n| title.contains(&n)) {
            2
        } else if needles().any(|n| abstract_text.contains(&n)) {
            1
        } else {
            0
        }
    }

    /// What keeps `paper` without asking, in words ("the keyword \"kv cache\" in the title"),
    /// when something does (see [`Terms::must_look`]).
    pub fn why_look(&self, paper: &Paper) -> Option<String> {
        self.why_look_in(paper, &Normalised::of(paper))
    }

    /// [`Terms::why_look`] on the paper's text normalised once.
    pub fn why_look_in(&self, paper: &Paper, text: &Normalised) -> Option<String> {
        if !self.authors.is_empty() {
            let followed = crate::domain::followed_authors(paper, &self.authors);
            if !followed.is_empty() {
                return Some(format!(
                    "by {}, whom the reader follows",
                    followed.join(", ")
                ));
            }
        }
        if self.keywords.is_empty() {
            return None;
        }
        let (title, abstract_text) = (&text.title, &text.abstract_text);
        let mut in_abstract = Vec::new();
        for k in &self.keywords {
            let needle = format!(" {k} ");
            if title.contains(&needle) {
                return Some(format!("the keyword \"{k}\" in the title"));
            }
            if abstract_text.contains(&needle) {
                in_abstract.push(format!("\"{k}\""));
            }
        }
        (in_abstract.len() >= 2)
            .then(|| format!("the keywords {} in the abstract", in_abstract.join(", ")))
    }
}

/// A paper's title and abstract as the keyword rules read them (lower case, words joined by
/// single spaces, a space at each end), made once per paper.
#[derive(Debug, Clone)]
pub struct Normalised {
    title: String,
    abstract_text: String,
}

impl Normalised {
    pub fn of(paper: &Paper) -> Normalised {
        Normalised {
            title: format!(" {} ", normalise(&paper.title)),
            abstract_text: format!(" {} ", normalise(&paper.abstract_text)),
        }
    }
}

pub fn score(paper: &Paper, terms: &Terms) -> Verdict {
    let title = format!(" {} ", normalise(&paper.title));
    let abstract_text = format!(" {} ", normalise(&paper.abstract_text));
    let mut points = 0u32;
    let mut in_title = Vec::new();
    let mut in_abstract = Vec::new();
    for k in &terms.keywords {
        let needle = format!(" {k} ");
        if title.contains(&needle) {
            points += 4;
            in_title.push(k.clone());
        } else if abstract_text.contains(&needle) {
            points += 2;
            in_abstract.push(k.clone());
        }
    }
    let mut topic_hits = Vec::new();
    let mut topic_points = 0u32;
    for w in &terms.topic_words {
        let needle = format!(" {w} ");
        if title.contains(&needle) {
            topic_points += 2;
            topic_hits.push(w.clone());
        } else if abstract_text.contains(&needle) {
            topic_points += 1;
            topic_hits.push(w.clone());
        }
    }
    // Topic words are weak evidence: alone they never reach the default bar of 7.
    points += topic_points.min(TOPIC_POINTS_CAP);
    let relevance = Score::clamped(1 + points as i64);
    let mut parts = Vec::new();
    if !in_title.is_empty() {
        parts.push(format!("keywords in the title: {}", in_title.join(", ")));
    }
    if !in_abstract.is_empty() {
        parts.push(format!(
            "keywords in the abstract: {}",
            in_abstract.join(", ")
        ));
    }
    if !topic_hits.is_empty() {
        topic_hits.truncate(8);
        parts.push(format!("topic words: {}", topic_hits.join(", ")));
    }
    let comment = if parts.is_empty() {
        "Keyword match: none of your keywords or topic words appear.".to_string()
    } else {
        format!("Keyword match — {}.", parts.join("; "))
    };
    Verdict {
        relevance,
        novelty: None,
        comment,
        // No model to write a TL;DR: the abstract's first sentence stands in for it.
        tldr: crate::support::text::first_sentence(&paper.abstract_text, 300),
    }
}

fn normalise(s: &str) -> String {
    words(s).join(" ")
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AnnounceType, PaperId};

    fn subscriber(topics: &str, keywords: &[&str]) -> Subscriber {
        Subscriber {
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            ..crate::domain::testing::subscriber(topics)
        }
    }

    fn paper(title: &str, abstract_text: &str) -> Paper {
        Paper {
            id: PaperId::parse("2503.21135").unwrap(),
            source: crate::domain::Source::Arxiv,
            version: 1,
            title: title.into(),
            authors: vec![],
            abstract_text: abstract_text.into(),
            categories: vec![],
            announce_type: AnnounceType::New,
            doi: None,
            journal_ref: None,
        }
    }

    #[test]
    fn keywords_in_the_title_weigh_most() {
        let terms = Terms::of(&subscriber(
            "Model compression",
            &["quantization", "mixture of experts"],
        ));
        let hit = score(
            &paper("MoE Quantization", "A mixture of experts model."),
            &terms,
        );
        let miss = score(&paper("Protein folding", "We fold proteins."), &terms);
        assert_eq!(hit.relevance.get(), 7, "{}", hit.comment);
        assert!(hit.comment.contains("quantization") && hit.comment.contains("mixture of experts"));
        assert_eq!(miss.relevance.get(), 1);
        assert!(hit.novelty.is_none());
    }

    #[test]
    fn topic_words_alone_stay_below_the_default_bar_and_irrelevant_lines_count_for_nothing() {
        let topics = "Sparse attention, pruning, quantization, compression, experts, transformers\n- Irrelevant: reinforcement learning";
        let terms = Terms::of(&subscriber(topics, &[]));
        let p = paper(
            "Sparse attention transformers with pruning",
            "quantization compression experts",
        );
        assert_eq!(score(&p, &terms).relevance.get(), 5);
        assert_eq!(
            score(&paper("Reinforcement", "reinforcement"), &terms)
                .relevance
                .get(),
            1
        );
    }

    #[test]
    fn words_match_whole_not_inside_other_words() {
        let terms = Terms::of(&subscriber("", &["moe"]));
        assert_eq!(
            score(&paper("Moebius transforms", "none"), &terms)
                .relevance
                .get(),
            1
        );
        assert_eq!(
            score(&paper("Sparse MoE", "none"), &terms).relevance.get(),
            5
        );
    }

    #[test]
    fn a_keyword_in_the_title_or_two_in_the_abstract_must_be_looked_at() {
        let t = Terms::of(&subscriber(
            "anything",
            &["mixture of experts", "pruning", "sparsity"],
        ));
        assert!(t.must_look(&paper("Pruning at scale", "Nothing here.")));
        assert!(t.must_look(&paper("A method", "We study sparsity and pruning.")));
        assert!(!t.must_look(&paper("A method", "We study sparsity in trees.")));
        assert!(!t.must_look(&paper("Spruning", "No sparsityx either.")));
    }

    #[test]
    fn slashes_and_parentheses_name_alternatives() {
        let t = Terms::of(&subscriber(
            "x",
            &["Mixture of Experts (MoE)", "Sparse/Sparsity"],
        ));
        assert!(t.must_look(&paper("Routing in MoE layers", "")));
        assert!(t.must_look(&paper("Sparsity everywhere", "")));
        assert!(t.must_look(&paper("A study", "A mixture of experts that is sparse.")));
    }
}
