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

use super::{JobResult, Run};
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
/// Per reader, the nearest papers that get a verdict however little they stand out.
pub(super) const ALWAYS: u32 = 3;
/// The least spread a piece's similarities are measured against (cosine units), so a piece
/// nearly every paper is equally far from does not make noise look like a match.
const MIN_SPREAD: f32 = 0.01;
/// Pieces embedded per profile at most.
const MAX_PIECES: usize = 64;
/// Readers ranked at a time (their vectors in memory together).
const READERS_AT_ONCE: usize = 128;

/// Decides for each pending pair whether it is near enough for a full verdict; drops the others
/// from `pending` (into `results[r].dropped`). On a failed embedding call, `pending` is left
/// with every pair not yet decided and the reason comes back, for the caller to fall back on.
pub(super) async fn nearest<'p>(
    run: &Run<'_>,
    pending: &mut [Vec<&'p Paper>],
    results: &mut [JobResult],
) -> anyhow::Result<Result<(), Problem>> {
    let mut ask: Vec<Vec<&'p Paper>> = vec![Vec::new(); pending.len()];
    let mut keep: Vec<Vec<&'p Paper>> = vec![Vec::new(); pending.len()];
    let mut known_dropped = 0;
    for (r, papers) in pending.iter_mut().enumerate() {
        let key = &run.readers[r].nearest_key;
        let ids: Vec<PaperId> = papers.iter().map(|p| p.id.clone()).collect();
        let known = run.store.triage_decisions(key, ids).await?;
        for p in papers.drain(..) {
            match known.get(&p.id) {
                Some(d) if !d.kept => {
                    results[r].dropped.insert(p.id.clone());
                    known_dropped += 1;
                }
                Some(_) => keep[r].push(p),
                None => ask[r].push(p),
            }
        }
    }
    (run.on_progress)(known_dropped);
    let outcome = rank_and_decide(run, &mut ask, &mut keep, results).await;
    for (r, kept) in keep.into_iter().enumerate() {
        pending[r] = kept;
        // Pairs left undecided (an embedding call failed) stay pending.
        pending[r].append(&mut ask[r]);
    }
    outcome
}

/// Embeds what is missing and decides the pairs in `ask`, moving them to `keep` or to
/// `results[r].dropped`; readers are decided in groups, so a failure leaves the rest in `ask`.
async fn rank_and_decide<'p>(
    run: &Run<'_>,
    ask: &mut [Vec<&'p Paper>],
    keep: &mut [Vec<&'p Paper>],
    results: &mut [JobResult],
) -> anyhow::Result<Result<(), Problem>> {
    let asking: Vec<usize> = (0..ask.len()).filter(|&r| !ask[r].is_empty()).collect();
    if asking.is_empty() {
        return Ok(Ok(()));
    }
    let mut seen = HashSet::new();
    let papers: Vec<&Paper> = asking
        .iter()
        .flat_map(|&r| ask[r].iter().copied())
        .filter(|p| seen.insert(p.id.clone()))
        .collect();
    tracing::info!(
        papers = papers.len(),
        readers = asking.len(),
        "embedding prefilter"
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

    for group in asking.chunks(READERS_AT_ONCE) {
        let pieces: Vec<Vec<(String, String)>> = group
            .iter()
            .map(|&r| {
                profile_pieces(&run.readers[r].job.subscribers[0])
                    .into_iter()
                    .map(|t| (text_hash(&t), t))
                    .collect()
            })
            .collect();
        // The papers of the readers' libraries are embedded with their pieces: signals for
        // the ranking (`rank::Vectors`), not pieces a paper is measured against.
        let emails = group
            .iter()
            .flat_map(|&r| run.readers[r].job.subscribers.iter())
            .map(|s| s.email.clone())
            .collect();
        let libraries = run.store.library_papers(emails).await?;
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
        let piece_vectors = match vectors_of(run, VectorKind::Profile, items, &weights).await? {
            Ok(v) => v,
            Err(why) => return Ok(Err(why)),
        };
        for (&r, mine) in group.iter().zip(&pieces) {
            let vs: Vec<&[f32]> = mine
                .iter()
                .filter_map(|(h, _)| piece_vectors.get(h).map(Vec::as_slice))
                .collect();
            let candidates = std::mem::take(&mut ask[r]);
            let placed = rank(&candidates, &vs, &paper_vectors, &paper_hash);
            decide(run, r, candidates, placed, &mut keep[r], &mut results[r]).await?;
        }
    }
    Ok(Ok(()))
}

/// Where a paper stands among a reader's papers of the run.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    /// 1 = nearest.
    rank: u32,
    /// The cosine similarity of its best-matching piece.
    similarity: f32,
    /// Its nearness: how far above the day's median it stands to its best-matching piece, in
    /// robust standard deviations (plus half that for its second-best).
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
    // sims[i][j]: piece i against candidate j.
    let sims: Vec<Vec<f32>> = pieces
        .iter()
        .map(|piece| {
            paper_vs
                .iter()
                .map(|v| v.map_or(-1.0, |v| dot(piece, v)))
                .collect()
        })
        .collect();
    // Each piece's similarities as robust z-scores over the day's papers: how unusually near a
    // paper is to that interest, whatever the interest's wording.
    let zs: Vec<Vec<f32>> = sims
        .iter()
        .map(|s| {
            let (centre, spread) = robust_scale(s);
            s.iter().map(|x| (x - centre) / spread).collect()
        })
        .collect();
    let mut scored: Vec<(usize, f32, f32)> = (0..candidates.len())
        .map(|j| {
            let mut z: Vec<f32> = zs.iter().map(|z| z[j]).collect();
            z.sort_by(|a, b| b.total_cmp(a));
            let near =
                z.first().copied().unwrap_or(0.0) + 0.5 * z.get(1).copied().unwrap_or(0.0).max(0.0);
            let best = sims.iter().map(|s| s[j]).fold(-1.0f32, f32::max);
            (j, near, best)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| candidates[a.0].id.cmp(&candidates[b.0].id))
    });
    let mut out = vec![Place::default(); candidates.len()];
    for (rank, (j, near, best)) in scored.into_iter().enumerate() {
        out[j] = Place {
            rank: rank as u32 + 1,
            similarity: best,
            z: near,
        };
    }
    out
}

/// Keeps or drops each of reader `r`'s `candidates` by its place, saving the decisions.
async fn decide<'p>(
    run: &Run<'_>,
    r: usize,
    candidates: Vec<&'p Paper>,
    placed: Vec<Place>,
    keep: &mut Vec<&'p Paper>,
    result: &mut JobResult,
) -> anyhow::Result<()> {
    let reader = &run.readers[r];
    let s = run.scorer;
    let mut decisions = Vec::new();
    let mut dropped = 0;
    for (p, place) in candidates.into_iter().zip(placed) {
        let Place {
            rank,
            similarity,
            z,
        } = place;
        let d = if reader.terms.must_look(p) {
            Decision {
                kept: true,
                reason: Reason::Keyword,
            }
        } else {
            let near = rank <= ALWAYS || (rank <= s.top_k as u32 && z >= s.min_z);
            Decision {
                kept: near && similarity >= s.min_similarity,
                reason: Reason::Nearest { rank, similarity },
            }
        };
        if d.kept {
            keep.push(p);
        } else {
            result.dropped.insert(p.id.clone());
            dropped += 1;
        }
        decisions.push((p.id.clone(), d));
    }
    run.store
        .save_triage(&reader.nearest_key, decisions, run.run_id)
        .await?;
    (run.on_progress)(dropped);
    Ok(())
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

/// The pieces a profile is embedded as: its topics' paragraphs (unwanted lines left out), each
/// item of a keyword list (a line of three or more short comma-separated items), each keyword,
/// and each paper the reader asked for more of.
pub(crate) fn profile_pieces(sub: &Subscriber) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for paragraph in sub.topics.split("\n\n") {
        let mut kept = Vec::new();
        for line in paragraph.lines().filter(|l| !unwanted(l)) {
            match list_items(line) {
                Some(items) => pieces.extend(items.iter().flat_map(|i| alternatives(i))),
                None => kept.push(line.trim()),
            }
        }
        let text = kept.join("\n");
        let heading = text.trim_end_matches(['*', ' ']).ends_with(':');
        if !heading && text.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
            pieces.push(text);
        }
    }
    pieces.extend(sub.keywords.iter().flat_map(|k| alternatives(k)));
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

/// "Mixture of Experts (MoE)" and "Sparse/Sparsity" name alternatives: each is a piece.
fn alternatives(item: &str) -> Vec<String> {
    item.split(['/', '(', ')'])
        .map(|a| a.trim().to_string())
        .filter(|a| a.chars().any(char::is_alphanumeric))
        .collect()
}

/// A line that is a list of three or more short items ("- Relevant: MoE, Pruning, KV cache,
/// etc."): the items.
fn list_items(line: &str) -> Option<Vec<String>> {
    let body = line.split_once(':').map_or(line, |(_, rest)| rest);
    let items: Vec<String> = body
        .split(',')
        .map(|i| i.trim().trim_end_matches('.').trim())
        .filter(|i| !i.is_empty() && !i.eq_ignore_ascii_case("etc"))
        .map(str::to_string)
        .collect();
    let short = items.iter().all(|i| i.split_whitespace().count() <= 5);
    (items.len() >= 3 && short).then_some(items)
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
                "Sparsity",
                "pruning",
                "quantization",
                "low-rank approaches",
                "KV cache",
                "or other algorithmic efficiency breakthroughs",
                "1. Model Compression",
                "Mixture of Experts",
                "MoE",
                "Low-rank",
            ]
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
