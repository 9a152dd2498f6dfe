//! A reader's order of the day. The model's verdict gives the base (relevance and novelty, two
//! integers that bunch up); two finer parts separate the papers a verdict ties:
//!
//! - **nearness**: how near the paper is to the reader's own words — with an embedding endpoint,
//!   the cosine of its best-matching piece of the profile against the day's other papers (in
//!   robust standard deviations); without one, the share of a short topic's words the paper
//!   uses. The piece that matched best is the reason shown ("matches: MoE quantization").
//! - **learned**: what the reader has taught — each "more like this" / "less like this" and
//!   each paper of their imported library trains a small per-reader logistic regression
//!   (`linfa-logistic`) on paper embeddings; its probability for the paper, measured against
//!   the day's mean, moves the paper up or down by up to [`LEARNED_POINTS`].
//!
//! Every part is kept in [`Rank`], so the digest shows the score and its reason and `why` each
//! part's share.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{Paper, PaperId, Subscriber, Verdict};

mod learn;

/// Points the reader's teaching can move a paper, either way.
pub const LEARNED_POINTS: f32 = 1.5;
/// Points nearness can add (and, for a paper far below the day's median, take).
const NEARNESS_POINTS: f32 = 0.45;
/// Points shared words can add without embeddings (the day's most topical paper gets them
/// all, its least none). Below half a point, like [`NEARNESS_POINTS`]: verdicts move in half
/// points, so words only order papers within a verdict and never lift one above a paper the
/// model judged better (a 10/8 with every topic word shows 94, a 10/9 with none 95).
const LEXICAL_POINTS: f32 = 0.4;
/// A topic short enough to be shown as the reason, in words.
const LABEL_WORDS: usize = 6;

/// Where a paper stands for one reader, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rank {
    /// What the digest orders by and shows (0–10, shown out of 100): the sum of the parts below.
    pub score: f32,
    /// The model's verdict: relevance and novelty averaged (relevance alone when novelty is
    /// not judged).
    pub verdict: f32,
    /// Points for nearness to the reader's own words.
    pub nearness: f32,
    /// Points from the reader's signals; `None` when there is nothing to learn from.
    pub learned: Option<f32>,
    /// The reader's own words the paper matches best, when a short topic matches.
    pub reason: Option<String>,
}

impl Rank {
    /// The score as shown: out of 100, so the parts that separate a verdict's ties show.
    pub fn shown(&self) -> String {
        format!("{}/100", self.points())
    }

    /// The score out of 100 as shown, rounded once: what the digest orders by first, so a
    /// paper shown at 88 is never below one shown at 87.
    pub fn points(&self) -> u32 {
        (self.score * 10.0).round().clamp(0.0, 100.0) as u32
    }

    /// "75 verdict + 3.1 nearness − 4.0 learned" (out of 100, as shown), for `why`.
    pub fn parts(&self) -> String {
        let signed = |x: f32| {
            if x < 0.0 {
                format!("− {:.1}", -x * 10.0)
            } else {
                format!("+ {:.1}", x * 10.0)
            }
        };
        let mut s = format!(
            "{:.0} verdict {} nearness",
            self.verdict * 10.0,
            signed(self.nearness)
        );
        if let Some(l) = self.learned {
            s.push_str(&format!(" {} learned", signed(l)));
        }
        s
    }
}

/// One thing the reader taught: a paper's vector, and whether they want more like it.
#[derive(Debug, Clone)]
pub struct Signal {
    pub vector: Vec<f32>,
    pub more: bool,
}

/// The run's papers' vectors, by paper, read once and shared.
pub type DayVectors = Arc<HashMap<PaperId, Vec<f32>>>;

/// The embeddings a reader's ranking draws on (all under one embedding model).
#[derive(Debug, Default)]
pub struct Vectors {
    /// Each of [`pieces`]' vector, in order (`None` when not stored).
    pub pieces: Vec<Option<Vec<f32>>>,
    /// The run's papers' vectors (shared by every reader's ranking).
    pub papers: DayVectors,
    /// "More like"/"less like" examples: papers the reader pointed at.
    pub signals: Vec<Signal>,
    /// The papers of the reader's library, each embedded as its title.
    pub library: Vec<Vec<f32>>,
}

/// The pieces of a reader's profile a paper is measured against (the embedding prefilter's).
pub fn pieces(sub: &Subscriber) -> Vec<String> {
    super::group::profile_pieces(sub)
}

/// What a paper is embedded as: its title and abstract.
pub fn paper_text(p: &Paper) -> String {
    super::group::paper_text(p)
}

/// The ranks of `passed` (papers with their verdict) among the day's `candidates`, for `sub`.
/// `vectors` is `None` without an embedding endpoint: nearness then comes from shared words and
/// nothing is learned.
pub fn rank(
    sub: &Subscriber,
    candidates: &[&Paper],
    passed: &[(&Paper, &Verdict)],
    vectors: Option<&Vectors>,
) -> HashMap<PaperId, Rank> {
    let pieces = pieces(sub);
    let near = match vectors {
        Some(v) if v.pieces.iter().any(Option::is_some) => {
            embedded_nearness(&pieces, candidates, passed, v)
        }
        _ => lexical_nearness(&pieces, passed),
    };
    let learned = vectors.and_then(|v| learn::learned(candidates, passed, v));
    passed
        .iter()
        .map(|(p, v)| {
            let verdict = match v.novelty {
                Some(n) => (v.relevance.get() as f32 + n.get() as f32) / 2.0,
                None => v.relevance.get() as f32,
            };
            let (nearness, reason) = near.get(&p.id).cloned().unwrap_or((0.0, None));
            let learned = learned.as_ref().and_then(|l| l.get(&p.id).copied());
            let score = (verdict + nearness + learned.unwrap_or(0.0)).clamp(0.0, 10.0);
            (
                p.id.clone(),
                Rank {
                    score,
                    verdict,
                    nearness,
                    learned,
                    reason,
                },
            )
        })
        .collect()
}

fn short(piece: &str) -> bool {
    let n = piece.split_whitespace().count();
    n > 0 && n <= LABEL_WORDS && !piece.contains('\n')
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

/// Whether the paper's title or abstract says what `label` says: each of its words (but the
/// small ones) is there, in some form ("quantized" for "quantization"). Nearness alone picks
/// the piece a paper is least far from, which may be no match at all; a reason shown to the
/// reader must be true of the paper.
fn says(paper: &Paper, label: &str) -> bool {
    use crate::support::text::stems;
    let have = stems(&format!("{}\n{}", paper.title, paper.abstract_text));
    let wanted = stems(label);
    !wanted.is_empty() && wanted.is_subset(&have)
}

/// Without embeddings: how much the paper uses the reader's short topics — each topic's words
/// counted where they occur (a title word twice, an abstract word up to four times), summed over
/// topics, against the day's range — as points up to [`LEXICAL_POINTS`]; the topic it uses most, when all its words are
/// there, is the reason.
fn lexical_nearness(
    pieces: &[String],
    passed: &[(&Paper, &Verdict)],
) -> HashMap<PaperId, (f32, Option<String>)> {
    // A list piece ("MoE quantization, KV cache, …") gives each item as a topic.
    let items: Vec<String> = pieces
        .iter()
        .flat_map(|p| p.split([',', '\n', ';']))
        .map(|i| i.trim().trim_end_matches('.').trim().to_string())
        .filter(|i| short(i) && !i.eq_ignore_ascii_case("etc"))
        .collect();
    let labels: Vec<(&String, Vec<String>)> = items
        .iter()
        .map(|p| (p, words(p)))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    fn count(words: &[String]) -> HashMap<&str, usize> {
        let mut m: HashMap<&str, usize> = HashMap::new();
        for w in words {
            *m.entry(w.as_str()).or_default() += 1;
        }
        m
    }
    let uses: Vec<(PaperId, (f32, Option<String>))> = passed
        .iter()
        .map(|(p, _)| {
            let title_words = words(&p.title);
            let body_words = words(&p.abstract_text);
            let (title, body) = (count(&title_words), count(&body_words));
            let uses: Vec<(f32, bool, &String)> = labels
                .iter()
                .map(|(label, ws)| {
                    let hits: usize = ws
                        .iter()
                        .map(|w| {
                            2 * title.get(w.as_str()).copied().unwrap_or(0).min(2)
                                + body.get(w.as_str()).copied().unwrap_or(0).min(4)
                        })
                        .sum();
                    let all_found = ws
                        .iter()
                        .all(|w| title.contains_key(w.as_str()) || body.contains_key(w.as_str()));
                    (hits as f32 / ws.len() as f32, all_found, *label)
                })
                .collect();
            let total: f32 = uses.iter().map(|u| u.0).sum();
            let reason = uses
                .iter()
                .filter(|u| u.1)
                .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.2.cmp(a.2)))
                .map(|u| u.2.trim().to_string());
            (p.id.clone(), (total, reason))
        })
        .collect::<Vec<_>>();
    // Measured against the day's range, so the top papers spread out.
    let (lo, hi) = uses
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), (_, (t, _))| {
            (lo.min(*t), hi.max(*t))
        });
    uses.into_iter()
        .map(|(id, (total, reason))| {
            let points = if hi > lo {
                (total - lo) / (hi - lo)
            } else {
                0.0
            };
            (id, (points * LEXICAL_POINTS, reason))
        })
        .collect()
}

/// With embeddings: each paper's closeness to the profile (the mean cosine of its nearest
/// pieces) against the day's candidates' (robust z), as points, and the first line of the piece
/// it is nearest (a topic's heading, a keyword) as the reason.
fn embedded_nearness(
    pieces: &[String],
    candidates: &[&Paper],
    passed: &[(&Paper, &Verdict)],
    v: &Vectors,
) -> HashMap<PaperId, (f32, Option<String>)> {
    let stored: Vec<(&String, &[f32])> = pieces
        .iter()
        .zip(&v.pieces)
        .filter_map(|(p, pv)| Some((p, pv.as_deref()?)))
        .collect();
    let vs: Vec<&[f32]> = stored.iter().map(|(_, pv)| *pv).collect();
    let day: Vec<f32> = candidates
        .iter()
        .filter_map(|p| v.papers.get(&p.id))
        .map(|pv| super::group::closeness(&vs, pv).0)
        .collect();
    let (centre, spread) = super::group::robust_scale(&day);
    passed
        .iter()
        .filter_map(|(p, _)| {
            let pv = v.papers.get(&p.id)?;
            let (close, nearest, _) = super::group::closeness(&vs, pv);
            let z = ((close - centre) / spread).clamp(-2.0, 3.0);
            let reason = stored
                .get(nearest)
                .filter(|_| close > centre)
                .map(|(piece, _)| super::meaning::piece_label(piece))
                .filter(|l| l.split_whitespace().count() <= LABEL_WORDS)
                .filter(|l| says(p, l))
                .map(str::to_string);
            Some((p.id.clone(), (z / 3.0 * NEARNESS_POINTS, reason)))
        })
        .collect()
}

impl super::Scorer {
    /// The stored vectors of the run's papers (every reader's candidates), read once for all
    /// readers' rankings. `None` without an embedding endpoint.
    pub async fn day_vectors(
        &self,
        store: &crate::store::Store,
        papers: &[&Paper],
    ) -> anyhow::Result<Option<DayVectors>> {
        let Some(model) = self.embedding_model() else {
            return Ok(None);
        };
        let hashes: Vec<String> = papers
            .iter()
            .map(|p| super::group::text_hash(&super::group::paper_text(p)))
            .collect();
        let mut found = store.vectors(model, hashes.clone()).await?;
        let vectors = papers
            .iter()
            .zip(&hashes)
            .filter_map(|(p, h)| found.remove(h).map(|v| (p.id.clone(), v)))
            .collect();
        Ok(Some(Arc::new(vectors)))
    }

    /// The embedding model's name, when there is one.
    pub fn embedding_model(&self) -> Option<&str> {
        match self {
            super::Scorer::Llm(s) => s.meter.embedding_model(),
            super::Scorer::Keyword { embedder } => embedder.as_ref().map(|e| e.model()),
        }
    }

    /// The stored embeddings `sub`'s ranking draws on: their profile's pieces, the run's papers
    /// (`day`, from [`Self::day_vectors`]), the papers they pointed at ("more/less like this")
    /// and their library. `None` without an embedding endpoint. Nothing is embedded here: the
    /// prefilter stored what the day needs, and a missing vector only leaves its part out.
    pub async fn ranking_vectors(
        &self,
        store: &crate::store::Store,
        sub: &Subscriber,
        day: Option<&DayVectors>,
    ) -> anyhow::Result<Option<Vectors>> {
        let (Some(model), Some(day)) = (self.embedding_model(), day) else {
            return Ok(None);
        };
        let piece_hashes: Vec<String> = pieces(sub)
            .iter()
            .map(|t| super::group::text_hash(t))
            .collect();
        let stored = store.vectors(model, piece_hashes.clone()).await?;
        let pieces = piece_hashes
            .iter()
            .map(|h| stored.get(h).cloned())
            .collect();

        let examples = store.examples(&sub.email).await?;
        let example_ids: Vec<PaperId> = examples
            .iter()
            .filter_map(|e| PaperId::parse(&e.paper_id).ok())
            .collect();
        let example_papers = store.papers_by_ids(example_ids).await?;
        let example_hashes: HashMap<&str, String> = example_papers
            .iter()
            .map(|p| {
                let h = super::group::text_hash(&super::group::paper_text(p));
                (p.id.as_str(), h)
            })
            .collect();
        let found = store
            .vectors(model, example_hashes.values().cloned().collect())
            .await?;
        let signals: Vec<Signal> = examples
            .iter()
            .filter_map(|e| {
                let h = example_hashes.get(e.paper_id.as_str())?;
                Some(Signal {
                    vector: found.get(h)?.clone(),
                    more: e.more,
                })
            })
            .collect();
        // The reader's library (embedded by the prefilter; a title not embedded yet teaches
        // from the next run on).
        let mut library = Vec::new();
        if let Some(papers) = store
            .library_papers(vec![sub.email.clone()], super::group::LIBRARY_SIGNALS)
            .await?
            .get(&sub.email)
        {
            let hashes: Vec<String> = super::group::library_texts(papers)
                .iter()
                .map(|t| super::group::text_hash(t))
                .collect();
            let mut found = store.vectors(model, hashes.clone()).await?;
            library.extend(hashes.iter().filter_map(|h| found.remove(h)));
        }
        Ok(Some(Vectors {
            pieces,
            papers: day.clone(),
            signals,
            library,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AnnounceType, Score, Source};

    fn paper(id: &str, title: &str) -> Paper {
        Paper {
            id: PaperId::parse(id).unwrap(),
            source: Source::Arxiv,
            version: 1,
            title: title.into(),
            authors: vec![],
            abstract_text: String::new(),
            categories: vec![],
            announce_type: AnnounceType::New,
            doi: None,
            journal_ref: None,
        }
    }

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    /// Papers on two themes (axis 0: "A", axis 1: "B") and noise: after "less like" an A paper
    /// and "more like" a B paper, the other A papers lose points and the B papers gain them.
    #[test]
    fn less_like_a_and_more_like_b_move_their_neighbours() {
        let sub = crate::domain::testing::subscriber("Sparse attention");
        let papers: Vec<Paper> = (1..=12)
            .map(|i| paper(&format!("2503.{:05}", i), &format!("Paper {i}")))
            .collect();
        let theme = |i: usize| -> Vec<f32> {
            let mut v = vec![0.05; 6];
            v[i % 3] = 1.0;
            v[3 + i % 3] += 0.1 * (i as f32 / 12.0);
            unit(v)
        };
        let mut v = Vectors::default();
        for (i, p) in papers.iter().enumerate() {
            Arc::make_mut(&mut v.papers).insert(p.id.clone(), theme(i));
        }
        let verdict = Verdict {
            relevance: Score::new(8).unwrap(),
            novelty: Some(Score::new(7).unwrap()),
            comment: String::new(),
            tldr: None,
        };
        let candidates: Vec<&Paper> = papers.iter().collect();
        let passed: Vec<(&Paper, &Verdict)> = papers.iter().map(|p| (p, &verdict)).collect();
        let before = rank(&sub, &candidates, &passed, Some(&v));
        assert!(
            before.values().all(|r| r.learned.is_none()),
            "nothing taught yet"
        );
        // Paper 0 is theme A (axis 0), paper 1 theme B (axis 1).
        v.signals = vec![
            Signal {
                vector: theme(0),
                more: false,
            },
            Signal {
                vector: theme(1),
                more: true,
            },
        ];
        let after = rank(&sub, &candidates, &passed, Some(&v));
        for (i, p) in papers.iter().enumerate() {
            let (b, a) = (before[&p.id].score, after[&p.id].score);
            match i % 3 {
                0 => assert!(a < b, "an A paper ({i}) ranks lower: {b} → {a}"),
                1 => assert!(a > b, "a B paper ({i}) ranks higher: {b} → {a}"),
                _ => {}
            }
            assert!(after[&p.id].learned.unwrap().abs() <= LEARNED_POINTS);
        }
        let parts = after[&papers[1].id].parts();
        assert!(
            parts.contains("learned") && parts.starts_with("75 verdict"),
            "{parts}"
        );
    }

    /// A library of B-theme titles (embedded apart from the papers: a title alone lands off
    /// the papers' own direction) pulls the B papers up and leaves the A papers below them.
    #[test]
    fn a_library_pulls_its_neighbours_up() {
        let sub = crate::domain::testing::subscriber("Sparse attention");
        let papers: Vec<Paper> = (1..=12)
            .map(|i| paper(&format!("2503.{:05}", i), &format!("Paper {i}")))
            .collect();
        let theme = |i: usize| -> Vec<f32> {
            let mut v = vec![0.05; 7];
            v[i % 3] = 1.0;
            v[3 + i % 3] += 0.1 * (i as f32 / 12.0);
            unit(v)
        };
        let mut v = Vectors::default();
        for (i, p) in papers.iter().enumerate() {
            Arc::make_mut(&mut v.papers).insert(p.id.clone(), theme(i));
        }
        // Titles: theme B plus a direction no paper has.
        v.library = (0..2)
            .map(|k| unit(vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.8 + 0.1 * k as f32]))
            .collect();
        let verdict = Verdict {
            relevance: Score::new(8).unwrap(),
            novelty: Some(Score::new(7).unwrap()),
            comment: String::new(),
            tldr: None,
        };
        let candidates: Vec<&Paper> = papers.iter().collect();
        let passed: Vec<(&Paper, &Verdict)> = papers.iter().map(|p| (p, &verdict)).collect();
        let ranks = rank(&sub, &candidates, &passed, Some(&v));
        let (mut b, mut others) = (Vec::new(), Vec::new());
        for (i, p) in papers.iter().enumerate() {
            let l = ranks[&p.id].learned.expect("a library teaches");
            assert!(l.abs() <= LEARNED_POINTS);
            if i % 3 == 1 {
                b.push(l)
            } else {
                others.push(l)
            }
        }
        let lowest_b = b.iter().copied().fold(f32::MAX, f32::min);
        let highest_other = others.iter().copied().fold(f32::MIN, f32::max);
        assert!(lowest_b > 0.5, "the B papers are pulled up: {b:?}");
        assert!(
            highest_other < 0.1 && lowest_b > highest_other,
            "the others are not: {others:?} vs {b:?}"
        );
    }

    #[test]
    fn without_embeddings_the_reason_is_a_short_topic_the_paper_uses_whole() {
        let mut sub = crate::domain::testing::subscriber("Sparse attention");
        sub.topics = "- Relevant: MoE quantization, KV cache, speculative decoding\n".into();
        let p = paper("2503.00001", "Quantization of MoE layers, with a cache");
        let q = paper("2503.00002", "A cache for databases");
        let verdict = Verdict {
            relevance: Score::new(8).unwrap(),
            novelty: None,
            comment: String::new(),
            tldr: None,
        };
        let passed = vec![(&p, &verdict), (&q, &verdict)];
        let r = rank(&sub, &[&p, &q], &passed, None);
        assert_eq!(r[&p.id].reason.as_deref(), Some("MoE quantization"));
        assert!(r[&p.id].score > r[&q.id].score);
        assert_eq!(r[&q.id].reason, None, "one word of a topic is not a match");
        // The words add less than half a point: they order papers within a verdict.
        assert_eq!(r[&p.id].shown(), "84/100");
    }

    /// A paper with every topic word never climbs above one the model judged better: a 10/8
    /// using the reader's words stays below a 10/9 using none.
    #[test]
    fn shared_words_never_lift_a_paper_above_a_better_verdict() {
        let mut sub = crate::domain::testing::subscriber("t");
        sub.topics = "- Relevant: MoE quantization, KV cache\n".into();
        let wordy = paper("2503.00001", "MoE quantization with a KV cache");
        let plain = paper("2503.00002", "A study of something else");
        let v = |n: i64| Verdict {
            relevance: Score::new(10).unwrap(),
            novelty: Some(Score::new(n).unwrap()),
            comment: String::new(),
            tldr: None,
        };
        let (v8, v9) = (v(8), v(9));
        let passed = vec![(&wordy, &v8), (&plain, &v9)];
        let r = rank(&sub, &[&wordy, &plain], &passed, None);
        assert!(r[&wordy.id].nearness > 0.3, "{:?}", r[&wordy.id]);
        assert!(
            r[&plain.id].points() > r[&wordy.id].points(),
            "{:?} vs {:?}",
            r[&plain.id],
            r[&wordy.id]
        );
    }

    /// A reason is shown only when the paper says it: the nearest piece of a profile may be
    /// no match at all.
    #[test]
    fn a_reason_names_only_words_the_paper_uses() {
        let p = paper("2503.00001", "Quantized mixture models for compression");
        assert!(says(&p, "Model Compression"));
        assert!(says(&p, "quantization"), "another form of the word");
        assert!(!says(
            &paper("2503.00002", "Latent-space regression"),
            "Model Compression"
        ));
        assert!(!says(&p, "of the"), "small words alone say nothing");
    }
}
