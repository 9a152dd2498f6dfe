//! Stage 1 with an embedding endpoint: per reader, the papers nearest its profile get a full
//! verdict; the rest are left out, each recorded with its rank and similarity (so `why` can
//! say where it stood). Each paper's title and abstract is embedded once, each piece of a
//! profile once per change (vectors stored by text hash), so the day's embedding cost grows
//! with papers plus readers. A reader's keyword in the title (or two in the abstract) keeps a
//! paper whatever its rank.
//!
//! A profile is embedded as its pieces — each paragraph of its topics (lines about what is
//! *not* wanted left out), each item of a keyword list, each example paper — and a paper's
//! nearness to a reader is its best-matching piece plus half its second-best, each measured
//! against that piece's median over the day's papers (so a piece full of common words does
//! not pull every paper up), in robust standard deviations. Ranked by nearness, a paper gets a
//! verdict when it is among the reader's three nearest, or within `top_k` with a nearness of
//! `min_z` or more — and, either way, its best piece's cosine is at least `min_similarity`.
//! A reader whose interests the day touches often gets many verdicts; one it hardly touches,
//! three.

use std::collections::{HashMap, HashSet};

use sha2::{Digest as _, Sha256};

use super::Run;
use crate::domain::problem::{Kind, Problem};
use crate::domain::{Paper, PaperId, Subscriber};
use crate::llm::LlmError;
use crate::store::embeddings::{self, VectorKind};
use crate::store::spend::SpendRow;
use crate::store::triage::{Decision, Reason};
use crate::store::verdicts::Decided;
use crate::support::text::hex;

/// The papers of a reader's library the ranking learns from, at most (the latest imported):
/// enough to know what they read, few enough to learn from in a blink.
pub(crate) const LIBRARY_SIGNALS: usize = 500;
use super::super::ALWAYS_NEAREST as ALWAYS;
/// The least spread a piece's similarities are measured against (cosine units), so a piece
/// nearly every paper is equally far from does not make noise look like a match.
const MIN_SPREAD: f32 = 0.01;
/// Pieces embedded per profile at most.
const MAX_PIECES: usize = 64;
/// Readers ranked at a time (their vectors in memory together).
const READERS_AT_ONCE: usize = 128;

/// Orders each reader's pending papers, nearest first, and splits them: the likely ones (see
/// [`straight`]) stay in `pending` for a full verdict; the rest come back, in order, for the
/// title triage — no paper is left out here. Each paper's place is saved (rank, cosine,
/// nearness), so `why` can say where it stood. On a failed embedding call `pending` is left
/// as it was and the reason comes back, for the caller to fall back on.
pub(super) async fn order<'p>(
    run: &Run<'_>,
    pending: &mut [Vec<&'p Paper>],
) -> anyhow::Result<Result<Vec<Vec<&'p Paper>>, Problem>> {
    let asking: Vec<usize> = (0..pending.len())
        .filter(|&r| !pending[r].is_empty())
        .collect();
    let mut rest: Vec<Vec<&'p Paper>> = vec![Vec::new(); pending.len()];
    if asking.is_empty() {
        return Ok(Ok(rest));
    }
    let mut seen = HashSet::new();
    let papers: Vec<&Paper> = asking
        .iter()
        .flat_map(|&r| pending[r].iter().copied())
        .filter(|p| seen.insert(p.id.clone()))
        .collect();
    tracing::info!(
        papers = papers.len(),
        readers = asking.len(),
        "embedding stage: ordering each reader's papers"
    );
    let items: Vec<(String, String)> = papers
        .iter()
        .map(|p| {
            let text = paper_text(p);
            (text_hash(&text), text)
        })
        .collect();
    let paper_hash: HashMap<PaperId, String> = papers
        .iter()
        .zip(&items)
        .map(|(p, (h, _))| (p.id.clone(), h.clone()))
        .collect();
    let everyone: Vec<(usize, u64)> = asking.iter().map(|&r| (r, 1)).collect();
    let paper_vectors = match vectors_of(run, VectorKind::Paper, items, &everyone).await? {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };

    let mut placed_all: Vec<Option<Vec<Place>>> = vec![None; pending.len()];
    for group in asking.chunks(READERS_AT_ONCE) {
        let piece_vectors = match profile_vectors(run, group).await? {
            Ok(v) => v,
            Err(why) => return Ok(Err(why)),
        };
        for (&r, vs) in group.iter().zip(&piece_vectors) {
            let vs: Vec<&[f32]> = vs.iter().map(Vec::as_slice).collect();
            placed_all[r] = Some(rank(&pending[r], &vs, &paper_vectors, &paper_hash));
        }
    }
    let mut thin = 0;
    for (r, placed) in placed_all.into_iter().enumerate() {
        let Some(placed) = placed else { continue };
        let straight_to_verdict = split(run, r, &mut pending[r], placed, &mut rest[r]).await?;
        if straight_to_verdict <= ALWAYS as usize {
            thin += 1;
        }
    }
    if thin * 2 > asking.len() && asking.len() > 1 {
        tracing::warn!(
            readers = asking.len(),
            thin,
            min_z = run.scorer.min_z,
            "the embedding stage sends only its {ALWAYS} nearest papers straight to a verdict for most readers (the title triage reads the rest); [embeddings] min_z may be set for another model's vectors"
        );
        // In the run record too, so `status` and `runs show` say it.
        run.store
            .note_run(
                run.run_id,
                &format!(
                    "the embedding stage sent only its {ALWAYS} nearest papers straight to a verdict for {thin} of {} readers (min_z {}; the title triage read the rest)",
                    asking.len(),
                    run.scorer.min_z
                ),
            )
            .await?;
    }
    Ok(Ok(rest))
}

/// The vectors of each reader's profile pieces in `group` (embedded where missing), in the
/// order of [`profile_pieces`]. The papers of their libraries are embedded with them: signals
/// for the ranking (`rank::Vectors`), not pieces a paper is measured against.
async fn profile_vectors(
    run: &Run<'_>,
    group: &[usize],
) -> anyhow::Result<Result<Vec<Vec<Vec<f32>>>, Problem>> {
    let pieces: Vec<Vec<(String, String)>> = group
        .iter()
        .map(|&r| {
            profile_pieces(&run.readers[r].job.subscribers[0])
                .into_iter()
                .map(|t| (text_hash(&t), t))
                .collect()
        })
        .collect();
    let emails = group
        .iter()
        .flat_map(|&r| run.readers[r].job.subscribers.iter())
        .map(|s| s.email.clone())
        .collect();
    let libraries = run.store.library_papers(emails, LIBRARY_SIGNALS).await?;
    let mut items = Vec::new();
    let mut weights = Vec::new();
    let mut seen = HashSet::new();
    for (&r, mine) in group.iter().zip(&pieces) {
        let library: Vec<(String, String)> = run.readers[r]
            .job
            .subscribers
            .iter()
            .filter_map(|s| libraries.get(&s.email))
            .flat_map(|papers| library_texts(papers))
            .map(|t| (text_hash(&t), t))
            .collect();
        weights.push((r, (mine.len() + library.len()) as u64));
        for (h, t) in mine.iter().chain(&library) {
            if seen.insert(h.clone()) {
                items.push((h.clone(), t.clone()));
            }
        }
    }
    let vectors = match vectors_of(run, VectorKind::Profile, items, &weights).await? {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(pieces
        .iter()
        .map(|mine| {
            mine.iter()
                .filter_map(|(h, _)| vectors.get(h).cloned())
                .collect()
        })
        .collect()))
}

/// Where a paper stands among a reader's papers of the run.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    /// 1 = nearest.
    rank: u32,
    /// The cosine similarity of its best-matching piece.
    similarity: f32,
    /// Its nearness: how far its [`closeness`] stands above the median of the reader's papers
    /// of the run, in robust standard deviations.
    z: f32,
}

/// Per candidate (in the order given): its place by nearness.
fn rank(
    candidates: &[&Paper],
    pieces: &[&[f32]],
    vectors: &HashMap<String, Vec<f32>>,
    hash: &HashMap<PaperId, String>,
) -> Vec<Place> {
    let paper_vs: Vec<Option<&[f32]>> = candidates
        .iter()
        .map(|p| vectors.get(&hash[&p.id]).map(Vec::as_slice))
        .collect();
    let close: Vec<(f32, usize, f32)> = paper_vs
        .iter()
        .map(|v| v.map_or((-1.0, 0, -1.0), |v| closeness(pieces, v)))
        .collect();
    // Measured against the day's other papers: how unusually near a paper is to this reader,
    // whatever the wording of their profile.
    let all: Vec<f32> = close.iter().map(|c| c.0).collect();
    let (centre, spread) = robust_scale(&all);
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        close[b]
            .0
            .total_cmp(&close[a].0)
            .then_with(|| candidates[a].id.cmp(&candidates[b].id))
    });
    let mut out = vec![Place::default(); candidates.len()];
    for (rank, j) in order.into_iter().enumerate() {
        out[j] = Place {
            rank: rank as u32 + 1,
            similarity: close[j].2,
            z: (close[j].0 - centre) / spread,
        };
    }
    out
}

/// Pieces a paper's closeness averages over: its nearest few, so a paper on one of the
/// reader's interests counts fully whatever the others, and a paper that touches several
/// counts more. Chosen on the recall benchmark (README, "The embedding model").
const NEAREST_PIECES: usize = 3;

/// A paper's closeness to a profile's `pieces`: the mean cosine of its [`NEAREST_PIECES`]
/// nearest pieces (of all, for fewer), with the nearest piece's index and cosine.
pub(crate) fn closeness(pieces: &[&[f32]], paper: &[f32]) -> (f32, usize, f32) {
    let mut cos: Vec<(f32, usize)> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (dot(p, paper), i))
        .collect();
    if cos.is_empty() {
        return (-1.0, 0, -1.0);
    }
    cos.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = cos.len().min(NEAREST_PIECES);
    let mean = cos[..n].iter().map(|c| c.0).sum::<f32>() / n as f32;
    (mean, cos[0].1, cos[0].0)
}

/// Whether a paper at `place` goes straight to a full verdict: among the reader's
/// [`ALWAYS`] nearest, or within `top_k` with a nearness of `min_z` or more — and, either way,
/// with its best piece's cosine at least `min_similarity`.
fn straight(s: &super::super::LlmScorer, place: &Place) -> bool {
    let near = place.rank <= ALWAYS || (place.rank as usize <= s.top_k && place.z >= s.min_z);
    near && place.similarity >= s.min_similarity
}

/// Orders reader `r`'s `papers` by their place and splits them: those going straight to a
/// verdict (and those a keyword keeps) stay, the others move to `rest` for the title triage.
/// Saves each place. Returns how many went straight by nearness.
async fn split<'p>(
    run: &Run<'_>,
    r: usize,
    papers: &mut Vec<&'p Paper>,
    placed: Vec<Place>,
    rest: &mut Vec<&'p Paper>,
) -> anyhow::Result<usize> {
    let reader = &run.readers[r];
    let mut both: Vec<(&'p Paper, Place)> = papers.drain(..).zip(placed).collect();
    both.sort_by_key(|(_, place)| place.rank);
    let mut decisions = Vec::new();
    let mut by_nearness = 0;
    for (p, place) in both {
        let d = if run.keyword_keeps(r, p) {
            Decision {
                kept: true,
                reason: Reason::Keyword,
            }
        } else {
            let kept = straight(run.scorer, &place);
            by_nearness += usize::from(kept);
            Decision {
                kept,
                reason: Reason::Placed {
                    rank: place.rank,
                    similarity: place.similarity,
                    nearness: place.z,
                },
            }
        };
        if d.kept {
            papers.push(p);
        } else {
            rest.push(p);
        }
        decisions.push((p.id.clone(), d));
    }
    run.store
        .save_triage(&reader.nearest_key, decisions, run.run_id)
        .await?;
    Ok(by_nearness)
}

/// The vectors of `items` (text hash, text): stored ones read back, the rest embedded in
/// metered requests (their spend split across `weights`: reader index, weight) and stored.
async fn vectors_of(
    run: &Run<'_>,
    kind: VectorKind,
    items: Vec<(String, String)>,
    weights: &[(usize, u64)],
) -> anyhow::Result<Result<HashMap<String, Vec<f32>>, Problem>> {
    let meter = &run.scorer.meter;
    let model = meter.embedding_model().unwrap_or_default().to_string();
    let hashes: Vec<String> = items.iter().map(|(h, _)| h.clone()).collect();
    let mut have = run.store.vectors(&model, hashes).await?;
    let missing: Vec<(String, String)> = items
        .into_iter()
        .filter(|(h, _)| !have.contains_key(h))
        .collect();
    let mut shares = Vec::new();
    for &(r, w) in weights {
        run.readers[r].shares(w, &mut shares);
    }
    for batch in missing.chunks(run.scorer.embed_batch_size.max(1)) {
        let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        let chars: usize = texts.iter().map(String::len).sum();
        let reserved = match meter
            .reserve(run.store, run.ctx.now, meter.embed_worst_cost(chars))
            .await?
        {
            Ok(r) => r,
            Err(why) => {
                let why = Problem::new(Kind::Budget, why);
                run.stop.lock().unwrap().get_or_insert(why.clone());
                return Ok(Err(why));
            }
        };
        let answer = tokio::select! {
            a = meter.embed(&reserved, texts) => Some(a),
            _ = run.ctx.cancel.cancelled() => None,
        };
        let embedded = match answer {
            Some(Ok(e)) => e,
            Some(Err(LlmError(why))) => {
                meter.release(reserved).await;
                return Ok(Err(why));
            }
            None => {
                meter.release(reserved).await;
                let why = Problem::new(
                    Kind::Interrupted,
                    "scoring was interrupted by shutdown; the next run scores these papers",
                );
                run.stop.lock().unwrap().get_or_insert(why.clone());
                return Ok(Err(why));
            }
        };
        let row = SpendRow {
            run_id: Some(run.run_id),
            papers: if kind == VectorKind::Paper {
                batch.len()
            } else {
                0
            },
            ..meter.embed_spend_row(embedded.prompt_tokens)
        };
        let vectors: Vec<(String, Vec<f32>)> = batch
            .iter()
            .map(|(h, _)| h.clone())
            .zip(embedded.vectors.iter().map(|v| embeddings::as_stored(v)))
            .collect();
        let saved = run
            .store
            .record_paid_call(
                row.split(&shares),
                Decided::Vectors {
                    model: model.clone(),
                    kind,
                    vectors: vectors.clone(),
                },
                run.run_id,
            )
            .await;
        meter.release(reserved).await;
        saved?;
        have.extend(vectors);
    }
    Ok(Ok(have))
}

/// The papers of a reader's library that teach the ranking (the latest imported), each as
/// what it is embedded as: its title.
pub(crate) fn library_texts(papers: &[crate::store::library::LibraryPaper]) -> Vec<String> {
    let start = papers.len().saturating_sub(LIBRARY_SIGNALS);
    papers[start..]
        .iter()
        .map(|p| p.title.trim().to_string())
        .collect()
}

/// What a paper is embedded as.
pub(crate) fn paper_text(p: &Paper) -> String {
    format!("{}\n\n{}", p.title.trim(), p.abstract_text.trim())
}

pub(crate) fn text_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))[..32].to_string()
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The centre (median) and spread (1.4826 × the median absolute deviation, at least
/// [`MIN_SPREAD`]) of similarities: what a robust z-score measures against.
pub(crate) fn robust_scale(xs: &[f32]) -> (f32, f32) {
    let centre = median(xs);
    let deviations: Vec<f32> = xs.iter().map(|x| (x - centre).abs()).collect();
    (centre, (1.4826 * median(&deviations)).max(MIN_SPREAD))
}

fn median(xs: &[f32]) -> f32 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Whether a line says what the reader does *not* want ("- Irrelevant: …", "- Application: …"
/// in the seed profiles' keyword lists).
fn unwanted(line: &str) -> bool {
    let l = line
        .trim_start_matches([' ', '-', '*', '\t'])
        .to_lowercase();
    l.contains("irrelevant")
        || l.starts_with("application:")
        || l.starts_with("applications:")
        || l.starts_with("not relevant")
}

/// The pieces a profile is embedded as, each a whole thought in the reader's words: each
/// paragraph of its topics (a numbered topic with its lines; lines about what is *not* wanted,
/// Markdown headings and list markers left out, a paragraph that is only a heading such as
/// "**Keywords:**" skipped), each keyword list as one piece, each keyword, and each paper the
/// reader asked for more of. Phrases are never cut at "/" or "(": "Sparse/Sparsity" and
/// "Mixture of Experts (MoE)" are read as written.
pub(crate) fn profile_pieces(sub: &Subscriber) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for paragraph in sub.topics.split("\n\n") {
        let mut kept = Vec::new();
        for line in paragraph.lines().filter(|l| !unwanted(l)) {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim_start_matches(['-', '*', '•', ' ', '\t']);
            // "1. Model Compression": the number is a list marker too.
            let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let line = match line[digits..].strip_prefix(['.', ')']) {
                Some(rest) if digits > 0 => rest.trim_start(),
                _ => line,
            };
            let line = line
                .strip_prefix("Relevant:")
                .or_else(|| line.strip_prefix("relevant:"))
                .unwrap_or(line)
                .trim();
            if !line.is_empty() {
                kept.push(line);
            }
        }
        let text = kept.join("\n");
        let heading = text.trim_end_matches(['*', ' ']).ends_with(':');
        if !heading && text.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
            pieces.push(text.replace("**", ""));
        }
    }
    pieces.extend(sub.keywords.iter().map(|k| k.trim().to_string()));
    pieces.extend(
        sub.examples
            .iter()
            .filter(|(more, _)| *more)
            .map(|(_, t)| t.trim().to_string()),
    );
    let mut seen = HashSet::new();
    pieces.retain(|p| !p.is_empty() && seen.insert(p.to_lowercase()));
    pieces.truncate(MAX_PIECES);
    if pieces.is_empty() {
        pieces.push(sub.profile_text());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_profile_is_embedded_as_its_wanted_pieces() {
        let sub = crate::domain::testing::subscriber(
            "1. Model Compression\n   - Relevant: Sparsity, pruning, quantization, low-rank approaches, KV cache, or other algorithmic efficiency breakthroughs.\n   - Irrelevant: Straightforward applications.\n\n**Keywords:**\n\n- Relevant: Mixture of Experts (MoE), Pruning, Quantization, Low-rank, etc.\n- Irrelevant: Reinforcement Learning, Federated Learning, Diffusion Models.\n- Application: Image Segmentation, Medical Imaging, Time Series.",
        );
        let pieces = profile_pieces(&sub);
        assert_eq!(
            pieces,
            [
                "Model Compression\nSparsity, pruning, quantization, low-rank approaches, KV cache, or other algorithmic efficiency breakthroughs.",
                "Mixture of Experts (MoE), Pruning, Quantization, Low-rank, etc.",
            ],
            "whole thoughts: no heading, no list marker or number, nothing unwanted, no phrase cut"
        );
    }

    #[test]
    fn nearness_ranks_the_best_matching_piece_first() {
        let unit = |v: Vec<f32>| crate::domain::vector::unit(v);
        let pieces = [unit(vec![1.0, 0.0, 0.0]), unit(vec![0.0, 1.0, 0.0])];
        let refs: Vec<&[f32]> = pieces.iter().map(Vec::as_slice).collect();
        let papers: Vec<Paper> = ["2503.00001", "2503.00002", "2503.00003"]
            .iter()
            .map(|id| crate::domain::testing::paper(id))
            .collect();
        let cands: Vec<&Paper> = papers.iter().collect();
        let mut vectors = HashMap::new();
        let mut hash = HashMap::new();
        for (p, v) in papers.iter().zip([
            vec![0.2, 0.1, 1.0], // near neither
            vec![0.1, 1.0, 0.1], // the second interest
            vec![1.0, 0.9, 0.0], // both
        ]) {
            hash.insert(p.id.clone(), p.id.to_string());
            vectors.insert(p.id.to_string(), unit(v));
        }
        let placed = rank(&cands, &refs, &vectors, &hash);
        assert_eq!(placed.iter().map(|p| p.rank).collect::<Vec<_>>(), [3, 2, 1]);
        assert!(
            placed[1].similarity > 0.98,
            "the cosine of its best piece: {}",
            placed[1].similarity
        );
        assert!(placed[2].z > placed[0].z);
    }
}
