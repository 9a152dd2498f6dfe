use std::collections::HashMap;

use super::Entry;
use crate::domain::{followed_authors, Paper, PaperId, Subscriber, Verdict};
use crate::scoring::rank::Rank;
use crate::store::library::LibraryPaper;

pub struct Selection {
    /// Shown in full: author matches, then the best scored papers up to `max_papers`.
    pub entries: Vec<Entry>,
    /// Passed the thresholds but past `max_papers`: listed by title, never dropped in silence.
    pub more: Vec<Entry>,
}

/// Papers that pass the subscriber's thresholds by their rank's score (verdict, nearness and
/// what the reader taught), then relevance; the papers of followed authors (in feed order) after
/// the reader's `full_cards`; capped at `max_papers` (author matches are never cut), the
/// rest that passed in `more`.
pub fn select<'p>(
    candidates: impl IntoIterator<Item = &'p Paper>,
    verdicts: &HashMap<PaperId, Verdict>,
    ranks: &HashMap<PaperId, Rank>,
    subscriber: &Subscriber,
) -> Selection {
    let mut pinned = Vec::new();
    let mut scored = Vec::new();
    for p in candidates {
        let followed = followed_authors(p, &subscriber.authors);
        if !followed.is_empty() {
            pinned.push(Entry {
                paper: p.clone(),
                verdict: verdicts.get(&p.id).cloned(),
                rank: ranks.get(&p.id).cloned(),
                author_match: true,
                followed,
                namesakes: Vec::new(),
                announced: None,
            });
        } else if let Some(v) = verdicts.get(&p.id) {
            if subscriber.passes(v) {
                scored.push(Entry {
                    paper: p.clone(),
                    verdict: Some(v.clone()),
                    rank: ranks.get(&p.id).cloned(),
                    author_match: false,
                    followed: Vec::new(),
                    namesakes: Vec::new(),
                    announced: None,
                });
            }
        }
    }
    // The score as shown first, so the order never contradicts the numbers a reader sees;
    // then the exact score, then the verdict.
    let key = |e: &Entry| {
        let v = e.verdict.as_ref().expect("scored entries have verdicts");
        // (Followed authors' papers are not in `scored`; theirs may have none.)
        let r = v.relevance.get() as u32;
        let n = v.novelty.map_or(0, |n| n.get() as u32);
        let (shown, exact) = e
            .rank
            .as_ref()
            // (A score is never negative, and positive floats order as their bits.)
            .map_or(((r + n) * 5, 0), |k| (k.points(), k.score.to_bits()));
        (
            std::cmp::Reverse(shown),
            std::cmp::Reverse(exact),
            std::cmp::Reverse(r + n),
            std::cmp::Reverse(r),
            e.paper.id.clone(),
        )
    };
    scored.sort_by_key(key);
    let room = subscriber.max_papers.saturating_sub(pinned.len());
    let more = scored.split_off(room.min(scored.len()));
    // In the order the digest shows them (and numbers them): the best in full, the followed
    // authors' papers, the rest.
    let rest = scored.split_off(subscriber.full_cards.min(scored.len()));
    scored.extend(pinned);
    scored.extend(rest);
    Selection {
        entries: scored,
        more,
    }
}

/// Marks, on the followed authors' papers of `selection`, each followed name none of whose
/// co-authors there appear in the reader's `library`: possibly another person of the same name
/// (two "Tianyi Chen"s). A paper without co-authors, or a reader without a library, is not
/// marked: there is nothing to tell them apart by.
pub fn mark_namesakes(selection: &mut Selection, library: &[LibraryPaper]) {
    if library.is_empty() {
        return;
    }
    let mut known: Vec<&str> = library
        .iter()
        .flat_map(|p| p.authors.iter().map(String::as_str))
        .collect();
    known.sort_unstable();
    known.dedup();
    for e in selection
        .entries
        .iter_mut()
        .chain(selection.more.iter_mut())
        .filter(|e| !e.followed.is_empty())
    {
        let co = e.co_authors();
        if co.is_empty() {
            continue;
        }
        let overlap = co
            .iter()
            .any(|a| known.iter().any(|k| crate::domain::same_author(k, a)));
        if !overlap {
            e.namesakes = e.followed.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::author_matches;
    use crate::domain::{AnnounceType, Score, SubscriberEmail};

    fn paper(id: &str, authors: &[&str]) -> Paper {
        Paper {
            id: PaperId::parse(id).unwrap(),
            source: crate::domain::Source::Arxiv,
            version: 1,
            title: format!("Paper {id}"),
            authors: authors.iter().map(|s| s.to_string()).collect(),
            abstract_text: String::new(),
            categories: vec![],
            announce_type: AnnounceType::New,
            doi: None,
            journal_ref: None,
        }
    }

    fn sub(authors: &[&str], max: usize) -> Subscriber {
        Subscriber {
            email: SubscriberEmail::parse("a@lab.org").unwrap(),
            name: "A".into(),
            topics: "t".into(),
            authors: authors.iter().map(|s| s.to_string()).collect(),
            keywords: vec![],
            categories: None,
            min_relevance: Score::new(7).unwrap(),
            min_novelty: Score::new(6).unwrap(),
            max_papers: max,
            full_cards: crate::domain::DEFAULT_FULL_CARDS,
            group_by_topic: None,
            send_empty: true,
            paused: false,
            language: crate::domain::Language::english(),
            frequency: crate::domain::Frequency::Daily,
            examples: vec![],
        }
    }

    fn v(r: i64, n: i64) -> Verdict {
        Verdict {
            relevance: Score::new(r).unwrap(),
            novelty: Some(Score::new(n).unwrap()),
            comment: String::new(),
            tldr: None,
        }
    }

    #[test]
    fn author_names_match_across_tex_accents_case_and_middle_names() {
        let p = paper(
            "2503.21419",
            &["Yupei Li", "Manuel Milling", "Björn W. Schuller"],
        );
        assert!(author_matches(&p, &[r#"Bj\"orn Schuller"#.to_string()]));
        assert!(author_matches(&p, &["björn schuller".to_string()]));
        assert!(author_matches(&p, &["Bjorn Schuller".to_string()]));
        assert!(author_matches(&p, &["B. Schuller".to_string()]));
        assert!(!author_matches(&p, &["Anna Schuller".to_string()]));
        assert!(!author_matches(&p, &["Manuel Li".to_string()]));
        let nick = paper("2503.21135", &["Yun (Eric) Liang"]);
        assert!(author_matches(&nick, &["Yun Liang".to_string()]));
        assert!(!author_matches(&nick, &["Eric Liang".to_string()]));
        // bioRxiv's `Surname, A. B.`, shown given names first.
        let bio = paper("2503.21136", &["H. C. Okonkwo", "M. Lindqvist"]);
        assert!(author_matches(&bio, &["Hannah Okonkwo".to_string()]));
        assert!(author_matches(
            &paper("2503.21137", &["H. Okonkwo"]),
            &["Hannah Okonkwo".to_string()]
        ));
        assert!(!author_matches(
            &paper("2503.21138", &["P. Okonkwo"]),
            &["Hannah Okonkwo".to_string()]
        ));
        assert!(author_matches(
            &paper("2503.21139", &["H. Okonkwo Jr."]),
            &["Hannah Okonkwo".to_string()]
        ));
    }

    #[test]
    fn order_thresholds_and_cap() {
        let papers = vec![
            paper("2503.00001", &["X"]),
            paper("2503.00002", &["X"]),
            paper("2503.00003", &["Yann LeCun"]),
            paper("2503.00004", &["X"]),
            paper("2503.00005", &["X"]),
            paper("2503.00006", &["X"]),
        ];
        let mut verdicts = HashMap::new();
        verdicts.insert(papers[0].id.clone(), v(8, 6)); // 14
        verdicts.insert(papers[1].id.clone(), v(7, 8)); // 15
        verdicts.insert(papers[3].id.clone(), v(9, 5)); // novelty below bar
        verdicts.insert(papers[4].id.clone(), v(6, 10)); // relevance below bar
        verdicts.insert(papers[5].id.clone(), v(8, 7)); // 15, relevance 8 beats 7
        let ranks = HashMap::new();
        let got = select(&papers, &verdicts, &ranks, &sub(&["Yann LeCun"], 10));
        let ids: Vec<&str> = got.entries.iter().map(|e| e.paper.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["2503.00006", "2503.00002", "2503.00001", "2503.00003"],
            "the followed author's paper after the papers shown in full"
        );
        assert!(got.entries[3].author_match && got.entries[3].verdict.is_none());
        assert_eq!(got.entries[3].followed, vec!["Yann LeCun"]);
        assert!(got.more.is_empty());

        let capped = select(&papers, &verdicts, &ranks, &sub(&["Yann LeCun"], 2));
        let ids: Vec<&str> = capped.entries.iter().map(|e| e.paper.id.as_str()).collect();
        assert_eq!(ids, vec!["2503.00006", "2503.00003"]);
        let more: Vec<&str> = capped.more.iter().map(|e| e.paper.id.as_str()).collect();
        assert_eq!(
            more,
            vec!["2503.00002", "2503.00001"],
            "past the cap, in order, not dropped"
        );
    }
}
