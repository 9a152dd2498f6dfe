//! Scoring without a model account: each paper's nearness to the reader's topics by the
//! embedding model (in-process by default), made a relevance, with the reader's keywords on
//! top. Papers and profile pieces are embedded once (vectors stored by text hash), so the
//! ranking and "more/less like this" work from the same vectors as with a model.

use std::collections::{HashMap, HashSet};

use super::group::{closeness, paper_text, profile_pieces, robust_scale, text_hash};
use super::keyword;
use crate::domain::{Paper, PaperId, Score, Subscriber, Verdict};
use crate::llm::embed::Embedder;
use crate::store::embeddings::VectorKind;
use crate::store::Store;

/// The version of this way of scoring: part of its verdicts' key.
pub const VERSION: &str = "meaning-v1";
/// Relevance for a paper at the reader's median nearness (a day's ordinary paper).
const BASE: f32 = 5.0;
/// Relevance points per robust standard deviation above the median.
const PER_SD: f32 = 1.0;

/// A paper's place among a reader's papers of the day, by meaning.
#[derive(Debug, Clone, Copy)]
pub struct Near {
    /// Robust standard deviations above the reader's median for the day.
    pub z: f32,
    /// The cosine of its nearest piece.
    pub cosine: f32,
    /// Which piece (index into [`profile_pieces`]).
    pub piece: usize,
}

/// Per job (in order): each paper's [`Near`]. `Err` when the model cannot embed (the caller
/// scores by keywords alone and says so).
pub async fn nearness(
    store: &Store,
    embedder: &Embedder,
    subs: &[&Subscriber],
    papers: &[Vec<&Paper>],
) -> anyhow::Result<Result<Vec<HashMap<PaperId, Near>>, String>> {
    let model = embedder.model().to_string();
    let mut items: Vec<(String, String, VectorKind)> = Vec::new();
    let mut seen = HashSet::new();
    // Each paper's text hashed once, whatever the number of its readers.
    let mut hash_of: HashMap<&PaperId, String> = HashMap::new();
    for p in papers.iter().flatten() {
        if hash_of.contains_key(&p.id) {
            continue;
        }
        let t = paper_text(p);
        let h = text_hash(&t);
        hash_of.insert(&p.id, h.clone());
        if seen.insert(h.clone()) {
            items.push((h, t, VectorKind::Paper));
        }
    }
    let pieces: Vec<Vec<(String, String)>> = subs
        .iter()
        .map(|s| {
            profile_pieces(s)
                .into_iter()
                .map(|t| (text_hash(&t), t))
                .collect()
        })
        .collect();
    for (h, t) in pieces.iter().flatten() {
        if seen.insert(h.clone()) {
            items.push((h.clone(), t.clone(), VectorKind::Profile));
        }
    }
    let mut have = store
        .vectors(&model, items.iter().map(|i| i.0.clone()).collect())
        .await?;
    let missing: Vec<&(String, String, VectorKind)> =
        items.iter().filter(|i| !have.contains_key(&i.0)).collect();
    if !missing.is_empty() {
        tracing::info!(texts = missing.len(), model = %model, "embedding the day's papers and profiles");
    }
    for batch in missing.chunks(256) {
        let texts = batch.iter().map(|i| i.1.clone()).collect();
        let embedded = match embedder.embed(texts).await {
            Ok(e) => e,
            Err(e) => return Ok(Err(e.to_string())),
        };
        for kind in [VectorKind::Paper, VectorKind::Profile] {
            let vectors: Vec<(String, Vec<f32>)> = batch
                .iter()
                .zip(&embedded.vectors)
                .filter(|(i, _)| i.2 == kind)
                .map(|(i, v)| (i.0.clone(), crate::store::embeddings::as_stored(v)))
                .collect();
            have.extend(vectors.iter().cloned());
            store.save_vectors(&model, kind, vectors).await?;
        }
    }
    Ok(Ok(subs
        .iter()
        .zip(&pieces)
        .zip(papers)
        .map(|((_, mine), papers)| {
            let vs: Vec<&[f32]> = mine
                .iter()
                .filter_map(|(h, _)| have.get(h).map(Vec::as_slice))
                .collect();
            place(papers, &vs, &have, &hash_of)
        })
        .collect()))
}

/// Each of `papers`' nearness to the pieces `vs`, against the others'.
fn place(
    papers: &[&Paper],
    vs: &[&[f32]],
    vectors: &HashMap<String, Vec<f32>>,
    hash_of: &HashMap<&PaperId, String>,
) -> HashMap<PaperId, Near> {
    let found: Vec<(&Paper, (f32, usize, f32))> = papers
        .iter()
        .filter_map(|p| {
            let v = vectors.get(hash_of.get(&p.id)?)?;
            Some((*p, closeness(vs, v)))
        })
        .collect();
    let all: Vec<f32> = found.iter().map(|(_, c)| c.0).collect();
    let (centre, spread) = robust_scale(&all);
    found
        .into_iter()
        .map(|(p, (c, piece, cosine))| {
            (
                p.id.clone(),
                Near {
                    z: (c - centre) / spread,
                    cosine,
                    piece,
                },
            )
        })
        .collect()
}

/// A piece as a reader recognises it: its first line, cut at 60 characters.
pub fn piece_label(piece: &str) -> &str {
    let line = piece.lines().next().unwrap_or(piece).trim();
    crate::support::text::shortened(line, 60).unwrap_or(line)
}

/// The verdict without a model: relevance from the paper's nearness ([`BASE`] at the reader's
/// median, [`PER_SD`] more per standard deviation), two more for a keyword of the reader's in the
/// title (one in the abstract); the keyword scorer's when the paper has no vector.
pub fn verdict(
    paper: &Paper,
    terms: &keyword::Terms,
    near: Option<&Near>,
    pieces: &[String],
) -> Verdict {
    let by_words = keyword::score(paper, terms);
    let Some(near) = near else {
        return by_words;
    };
    let keyword_points = terms.keyword_points(paper);
    let relevance = Score::clamped((BASE + PER_SD * near.z).round() as i64 + keyword_points);
    let piece = pieces.get(near.piece).map_or("", |p| piece_label(p));
    let mut comment = format!(
        "By meaning: {:.1} standard deviations above today's median for your topics (nearest: “{piece}”).",
        near.z
    );
    if keyword_points > 0 {
        comment.push(' ');
        comment.push_str(by_words.comment.trim_start_matches("Keyword match — "));
    }
    Verdict {
        relevance,
        comment,
        ..by_words
    }
}
