//! Builders for unit tests: a reader and a paper with plain defaults.

use super::*;

/// A reader `a@lab.org` with `topics` and the default thresholds.
pub fn subscriber(topics: &str) -> Subscriber {
    Subscriber {
        email: SubscriberEmail::parse("a@lab.org").unwrap(),
        name: "A".into(),
        topics: topics.into(),
        authors: vec![],
        keywords: vec![],
        categories: None,
        min_relevance: Score::new(7).unwrap(),
        min_novelty: Score::new(6).unwrap(),
        max_papers: 10,
        full_cards: crate::domain::DEFAULT_FULL_CARDS,
        group_by_topic: None,
        send_empty: true,
        paused: false,
        language: Language::english(),
        frequency: Frequency::Daily,
        examples: vec![],
    }
}

/// An arXiv paper `id` with a title and an abstract of about 200 bytes.
pub fn paper(id: &str) -> Paper {
    Paper {
        id: PaperId::parse(id).unwrap(),
        source: Source::Arxiv,
        version: 1,
        title: format!("A paper numbered {id}"),
        authors: vec![],
        abstract_text: "An abstract of some two hundred bytes. ".repeat(5),
        categories: vec![],
        announce_type: AnnounceType::New,
        doi: None,
        journal_ref: None,
    }
}
