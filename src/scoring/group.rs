//! Scoring for the whole group at once, so the cost grows with papers rather than readers ×
//! papers. Each distinct reader profile is a reader, labelled `R1…Rn` for the run.
//!
//! 1. Triage (`[llm] triage`): the day's titles go to the model once, with every reader's
//!    topics, and come back as `{"ARXIVID", "READERS": [...]}` lines: the readers each paper is
//!    worth a careful look for. A reader's keyword in the title (or two in the abstract) keeps a
//!    paper without asking; a paper the model gives no answer for is kept, so nothing is lost to
//!    a bad answer. Decisions are stored like verdicts.
//! 2. Verdicts: the kept (paper, reader) pairs, abstracts included, several readers per call;
//!    each abstract is sent once per call whatever the number of readers it is scored for.
//!
//! Every call is checked against what it asked, reserved in the budget before it is made, and
//! recorded in the ledger split across the readers it served.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::StreamExt as _;

use super::keyword;
use super::llm::{self, LlmError};
use super::prompt::{Prompts, ReaderBlock};
use super::reply;
use super::{spend_of, Job, JobResult, LlmScorer, ScoreContext};
use crate::domain::{ArxivId, Money, Paper, Verdict};
use crate::store::spend::SpendRow;
use crate::store::triage::{Decision, Reason};
use crate::store::verdicts::VerdictKey;
use crate::store::Store;

/// Verdict lines per call at most, so an answer stays well within a model's output limit.
const MAX_PAIRS_PER_CALL: usize = 240;

struct Reader<'a> {
    label: String,
    job: &'a Job,
    profile: String,
    comment_bar: u8,
    key: VerdictKey,
    triage_key: VerdictKey,
    terms: keyword::Terms,
}

impl Reader<'_> {
    fn block(&self, verdicts: bool) -> ReaderBlock<'_> {
        ReaderBlock {
            label: &self.label,
            profile: &self.profile,
            comment_bar: verdicts.then_some(self.comment_bar),
        }
    }

    /// This reader's subscribers with their part of `weight` (spend is split across them).
    fn shares(&self, weight: u64, out: &mut Vec<(String, String, u64)>) {
        let n = self.job.subscribers.len().max(1) as u64;
        for s in &self.job.subscribers {
            out.push((
                s.email.to_string(),
                self.key.profile_hash.clone(),
                (weight * 1000).div_ceil(n),
            ));
        }
    }
}

/// What a run's scoring shares across its calls.
struct Run<'a> {
    scorer: &'a LlmScorer,
    store: &'a Store,
    run_id: i64,
    ctx: &'a ScoreContext<'a>,
    readers: Vec<Reader<'a>>,
    /// Set when no further call can succeed this run (budget, rejected key, shutdown).
    stop: Mutex<Option<String>>,
    on_progress: &'a (dyn Fn(usize) + Sync),
}

/// Why a call gave no answer.
enum CallError {
    /// Nothing more can be asked this run; the reason is for the digest and the run record.
    Stop(String),
    /// This call failed after its retries; others may still work.
    Failed(String),
}

/// An answer with its ledger rows and budget reservation, to be recorded with what it decided.
struct Paid {
    text: String,
    rows: Vec<SpendRow>,
    worst: Money,
}

/// Papers with the readers (indices) they are asked about in one call.
type Chunk<'p> = Vec<(&'p Paper, Vec<usize>)>;

pub(super) async fn score(
    scorer: &LlmScorer,
    keys: impl Fn(&Job) -> (VerdictKey, VerdictKey),
    store: &Store,
    run_id: i64,
    mut jobs: Vec<Job>,
    on_progress: &(dyn Fn(usize) + Sync),
    ctx: &ScoreContext<'_>,
) -> anyhow::Result<HashMap<String, JobResult>> {
    // Labels in a stable order, so the day's calls share their prefix.
    jobs.sort_by_key(|j| j.profile_hash());
    let readers: Vec<Reader> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let (key, triage_key) = keys(job);
            Reader {
                label: format!("R{}", i + 1),
                job,
                profile: job.subscribers[0].profile_text(),
                comment_bar: job.comment_bar(),
                key,
                triage_key,
                terms: keyword::Terms::of(&job.subscribers[0]),
            }
        })
        .collect();
    let run = Run {
        scorer,
        store,
        run_id,
        ctx,
        readers,
        stop: Mutex::new(None),
        on_progress,
    };
    let mut results: Vec<JobResult> = jobs.iter().map(|_| JobResult::default()).collect();
    // The pairs still to score, per reader.
    let mut pending: Vec<Vec<&Paper>> = jobs.iter().map(|j| j.papers.iter().collect()).collect();

    if scorer.triage {
        triage(&run, &mut pending, &mut results).await?;
    }
    verdicts(&run, pending, &mut results).await?;

    Ok(jobs
        .iter()
        .zip(results)
        .map(|(j, r)| (j.profile_hash(), r))
        .collect())
}

/// Stage 1: decides for each pending pair whether it is worth a full verdict; drops the others
/// from `pending` (into `results[r].dropped`).
async fn triage<'p>(
    run: &Run<'_>,
    pending: &mut [Vec<&'p Paper>],
    results: &mut [JobResult],
) -> anyhow::Result<()> {
    let mut keep: Vec<Vec<&'p Paper>> = vec![Vec::new(); pending.len()];
    let mut ask: Chunk<'p> = Vec::new();
    let mut index: HashMap<ArxivId, usize> = HashMap::new();
    for (r, papers) in pending.iter_mut().enumerate() {
        let reader = &run.readers[r];
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
        let key = reader.triage_key.clone();
        let known = run
            .store
            .call(move |c| crate::store::triage::load(c, &key, &ids))
            .await?;
        let mut by_keyword = Vec::new();
        for p in papers.drain(..) {
            match known.get(&p.id) {
                Some(d) if !d.kept => {
                    results[r].dropped.insert(p.id.clone());
                }
                Some(_) => keep[r].push(p),
                None if reader.terms.must_look(p) => {
                    by_keyword.push((
                        p.id.clone(),
                        Decision {
                            kept: true,
                            reason: Reason::Keyword,
                        },
                    ));
                    keep[r].push(p);
                }
                None => {
                    let i = *index.entry(p.id.clone()).or_insert_with(|| {
                        ask.push((p, Vec::new()));
                        ask.len() - 1
                    });
                    ask[i].1.push(r);
                }
            }
        }
        if !by_keyword.is_empty() {
            let (key, run_id) = (reader.triage_key.clone(), run.run_id);
            run.store
                .call(move |c| crate::store::triage::save(c, &key, &by_keyword, Some(run_id)))
                .await?;
        }
    }
    let dropped_known: usize = results.iter().map(|r| r.dropped.len()).sum();
    (run.on_progress)(dropped_known);
    if !ask.is_empty() {
        let pairs: usize = ask.iter().map(|a| a.1.len()).sum();
        tracing::info!(
            papers = ask.len(),
            pairs,
            readers = run.readers.len(),
            "title triage"
        );
    }

    let chunks: Vec<Chunk<'p>> = ask
        .chunks(run.scorer.triage_batch_size)
        .map(<[_]>::to_vec)
        .collect();
    // Futures made in a loop rather than a closure, which would need to be general over the
    // papers' lifetime.
    let mut calls = Vec::new();
    for chunk in chunks {
        calls.push(triage_call(run, chunk));
    }
    let outcomes = in_flight(run, calls).await;
    for outcome in outcomes {
        let (decided, stopped) = outcome?;
        for (paper, r, d) in decided {
            if d.kept {
                keep[r].push(paper);
            } else {
                results[r].dropped.insert(paper.id.clone());
                (run.on_progress)(1);
            }
        }
        for (paper, rs, why) in stopped {
            for r in rs {
                results[r].unscored.insert(paper.id.clone(), why.clone());
                (run.on_progress)(1);
            }
        }
    }
    for (r, kept) in keep.into_iter().enumerate() {
        pending[r] = kept;
    }
    Ok(())
}

type TriageOutcome<'p> = (
    Vec<(&'p Paper, usize, Decision)>,
    Vec<(&'p Paper, Vec<usize>, String)>,
);

/// One triage call (and its re-asks): the decisions, and the pairs left undecided because
/// scoring stopped.
async fn triage_call<'p>(run: &Run<'_>, chunk: Chunk<'p>) -> anyhow::Result<TriageOutcome<'p>> {
    let in_call: BTreeSet<usize> = chunk.iter().flat_map(|c| c.1.iter().copied()).collect();
    let blocks: Vec<ReaderBlock> = in_call
        .iter()
        .map(|&r| run.readers[r].block(false))
        .collect();
    let labels: Vec<String> = in_call
        .iter()
        .map(|&r| run.readers[r].label.clone())
        .collect();
    let system = run.scorer.prompts.triage_system(&blocks);
    let mut todo = chunk;
    let mut decided = Vec::new();
    for _ask in 0..=run.scorer.reask_attempts {
        if todo.is_empty() {
            break;
        }
        let refs: Vec<&Paper> = todo.iter().map(|c| c.0).collect();
        let user = Prompts::triage_user(&refs);
        let (shares, pairs) = shares(run, &todo);
        let worst = 24 * todo.len() as u64 + 4 * pairs as u64 + 50;
        let paid = match call(run, &system, &user, todo.len(), worst, "triage", &shares).await {
            Ok(p) => p,
            Err(CallError::Stop(why)) => {
                return Ok((
                    decided,
                    todo.into_iter()
                        .map(|(p, rs)| (p, rs, why.clone()))
                        .collect(),
                ));
            }
            Err(CallError::Failed(why)) => {
                tracing::warn!(error = %why, papers = todo.len(), "title triage failed; those papers get full verdicts");
                break;
            }
        };
        let ids: Vec<ArxivId> = todo.iter().map(|c| c.0.id.clone()).collect();
        let parsed = reply::parse_triage(&paid.text, &ids, &labels);
        for problem in &parsed.problems {
            tracing::warn!(%problem, "discarded part of the model's triage answer");
        }
        let answered: HashMap<ArxivId, Vec<String>> = parsed.kept.into_iter().collect();
        let mut to_save: HashMap<usize, Vec<(ArxivId, Decision)>> = HashMap::new();
        let mut rest = Vec::new();
        for (paper, rs) in todo {
            let Some(labels) = answered.get(&paper.id) else {
                rest.push((paper, rs));
                continue;
            };
            for r in rs {
                let d = Decision {
                    kept: labels.contains(&run.readers[r].label),
                    reason: Reason::Model,
                };
                to_save.entry(r).or_default().push((paper.id.clone(), d));
                decided.push((paper, r, d));
            }
        }
        let saves: Vec<(VerdictKey, Vec<(ArxivId, Decision)>)> = to_save
            .into_iter()
            .map(|(r, d)| (run.readers[r].triage_key.clone(), d))
            .collect();
        let run_id = run.run_id;
        record(run, paid, move |c| {
            for (key, d) in &saves {
                crate::store::triage::save(c, key, d, Some(run_id))?;
            }
            Ok(())
        })
        .await?;
        todo = rest;
        if !todo.is_empty() {
            tracing::info!(
                missing = todo.len(),
                "the triage answer left papers out; asking again"
            );
        }
    }
    // No usable answer: kept for a full verdict, so a bad answer loses nothing.
    let mut to_save: HashMap<usize, Vec<(ArxivId, Decision)>> = HashMap::new();
    for (paper, rs) in todo {
        for r in rs {
            let d = Decision {
                kept: true,
                reason: Reason::NoAnswer,
            };
            to_save.entry(r).or_default().push((paper.id.clone(), d));
            decided.push((paper, r, d));
        }
    }
    for (r, d) in to_save {
        let (key, run_id) = (run.readers[r].triage_key.clone(), run.run_id);
        run.store
            .call(move |c| crate::store::triage::save(c, &key, &d, Some(run_id)))
            .await?;
    }
    Ok((decided, Vec::new()))
}

/// Stage 2: full verdicts for the pending pairs, several readers per call.
async fn verdicts(
    run: &Run<'_>,
    pending: Vec<Vec<&Paper>>,
    results: &mut [JobResult],
) -> anyhow::Result<()> {
    let mut by_paper: Chunk = Vec::new();
    let mut index: HashMap<ArxivId, usize> = HashMap::new();
    for (r, papers) in pending.into_iter().enumerate() {
        for p in papers {
            let i = *index.entry(p.id.clone()).or_insert_with(|| {
                by_paper.push((p, Vec::new()));
                by_paper.len() - 1
            });
            by_paper[i].1.push(r);
        }
    }
    if by_paper.is_empty() {
        return Ok(());
    }
    // Papers wanted by the same readers go together, so a call carries few profiles: ordered by
    // their last reader, a call's papers mostly share readers, and a reader's papers mostly
    // fall in one call.
    by_paper.sort_by_key(|(_, rs)| (rs.iter().max().copied(), rs.clone()));
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut chunk: Chunk = Vec::new();
    let mut pairs = 0;
    for (p, rs) in by_paper {
        if !chunk.is_empty()
            && (chunk.len() >= run.scorer.batch_size || pairs + rs.len() > MAX_PAIRS_PER_CALL)
        {
            chunks.push(std::mem::take(&mut chunk));
            pairs = 0;
        }
        pairs += rs.len();
        chunk.push((p, rs));
    }
    chunks.push(chunk);
    let total_pairs: usize = chunks.iter().flatten().map(|c| c.1.len()).sum();
    tracing::info!(pairs = total_pairs, calls = chunks.len(), "full verdicts");
    let mut calls = Vec::new();
    for chunk in chunks {
        calls.push(verdict_call(run, chunk));
    }
    let outcomes = in_flight(run, calls).await;
    for outcome in outcomes {
        let (verdicts, unscored) = outcome?;
        for (r, id, v) in verdicts {
            results[r].verdicts.insert(id, v);
        }
        for (r, id, why) in unscored {
            results[r].unscored.insert(id, why);
        }
    }
    Ok(())
}

type VerdictOutcome = (
    Vec<(usize, ArxivId, Verdict)>,
    Vec<(usize, ArxivId, String)>,
);

/// One verdict call (and its re-asks for pairs the answer left out).
async fn verdict_call(run: &Run<'_>, chunk: Chunk<'_>) -> anyhow::Result<VerdictOutcome> {
    let in_call: BTreeSet<usize> = chunk.iter().flat_map(|c| c.1.iter().copied()).collect();
    let blocks: Vec<ReaderBlock> = in_call
        .iter()
        .map(|&r| run.readers[r].block(true))
        .collect();
    let system = run.scorer.prompts.verdict_system(&blocks);
    let by_label: HashMap<&str, usize> = in_call
        .iter()
        .map(|&r| (run.readers[r].label.as_str(), r))
        .collect();
    let mut todo = chunk;
    let mut scored = Vec::new();
    let mut last_problem = String::from("no verdict in the answer");
    for ask in 0..=run.scorer.reask_attempts {
        if todo.is_empty() {
            break;
        }
        let asked: HashMap<ArxivId, Vec<String>> = todo
            .iter()
            .map(|(p, rs)| {
                let labels = rs.iter().map(|&r| run.readers[r].label.clone()).collect();
                (p.id.clone(), labels)
            })
            .collect();
        let listed: Vec<(&Paper, Vec<&str>)> = todo
            .iter()
            .map(|(p, rs)| {
                (
                    *p,
                    rs.iter().map(|&r| run.readers[r].label.as_str()).collect(),
                )
            })
            .collect();
        let user = Prompts::verdict_user(&listed);
        let (shares, pairs) = shares(run, &todo);
        let worst = 150 * pairs as u64 + 100;
        let paid = match call(run, &system, &user, todo.len(), worst, "verdict", &shares).await {
            Ok(p) => p,
            Err(CallError::Stop(why) | CallError::Failed(why)) => {
                let mut unscored = Vec::new();
                for (p, rs) in todo {
                    for r in rs {
                        unscored.push((r, p.id.clone(), why.clone()));
                        (run.on_progress)(1);
                    }
                }
                return Ok((scored, unscored));
            }
        };
        let parsed = reply::parse_verdicts(&paid.text, &asked);
        for problem in &parsed.problems {
            tracing::warn!(%problem, "discarded part of the model's answer");
        }
        if let Some(p) = parsed.problems.last() {
            last_problem = p.clone();
        }
        let mut to_save: HashMap<usize, Vec<(ArxivId, Verdict)>> = HashMap::new();
        for (id, label, v) in parsed.verdicts {
            let r = by_label[label.as_str()];
            to_save.entry(r).or_default().push((id, v));
        }
        let saves: Vec<(VerdictKey, Vec<(ArxivId, Verdict)>)> = to_save
            .iter()
            .map(|(&r, v)| (run.readers[r].key.clone(), v.clone()))
            .collect();
        let run_id = run.run_id;
        record(run, paid, move |c| {
            for (key, v) in &saves {
                crate::store::verdicts::save(c, key, v, Some(run_id))?;
            }
            Ok(())
        })
        .await?;
        let mut answered = 0;
        for (r, vs) in to_save {
            for (id, v) in vs {
                todo.iter_mut()
                    .filter(|(p, _)| p.id == id)
                    .for_each(|(_, rs)| rs.retain(|&x| x != r));
                scored.push((r, id, v));
                answered += 1;
            }
        }
        (run.on_progress)(answered);
        todo.retain(|(_, rs)| !rs.is_empty());
        if !todo.is_empty() {
            tracing::info!(
                missing = todo.iter().map(|c| c.1.len()).sum::<usize>(),
                ask = ask + 1,
                "the model left papers out; asking again"
            );
        }
    }
    let reasks = run.scorer.reask_attempts + 1;
    let mut unscored = Vec::new();
    for (p, rs) in todo {
        for r in rs {
            unscored.push((
                r,
                p.id.clone(),
                format!(
                    "the model gave no valid verdict after {reasks} asks (last problem: {last_problem})"
                ),
            ));
            (run.on_progress)(1);
        }
    }
    Ok((scored, unscored))
}

/// Runs `calls`, at most `concurrency` at a time.
async fn in_flight<F: std::future::Future>(run: &Run<'_>, calls: Vec<F>) -> Vec<F::Output> {
    futures::stream::iter(calls)
        .buffer_unordered(run.scorer.concurrency)
        .collect()
        .await
}

/// Who a call for `todo` serves, for the ledger (each reader weighted by its pairs in the call),
/// and the number of pairs.
fn shares(run: &Run<'_>, todo: &Chunk<'_>) -> (Vec<(String, String, u64)>, usize) {
    let mut weights: HashMap<usize, u64> = HashMap::new();
    for (_, rs) in todo {
        for &r in rs {
            *weights.entry(r).or_default() += 1;
        }
    }
    let mut shares = Vec::new();
    for (&r, &w) in &weights {
        run.readers[r].shares(w, &mut shares);
    }
    (shares, weights.values().sum::<u64>() as usize)
}

/// Makes one model call within the budget; the answer comes back with its ledger rows (split
/// across `shares`) and its reservation, for [`record`].
async fn call(
    run: &Run<'_>,
    system: &str,
    user: &str,
    papers: usize,
    worst_completion: u64,
    stage: &str,
    shares: &[(String, String, u64)],
) -> Result<Paid, CallError> {
    let stopped = || run.stop.lock().unwrap().clone();
    let stop = |why: String| {
        run.stop.lock().unwrap().get_or_insert(why.clone());
        CallError::Stop(why)
    };
    if let Some(why) = stopped() {
        return Err(CallError::Stop(why));
    }
    let s = run.scorer;
    let model = s.client.model();
    // The worst this call can cost: prompt tokens counted generously, the longest answer.
    let worst_prompt = ((system.len() + user.len()) / 3) as u64;
    let worst_completion = s
        .client
        .max_completion_tokens()
        .map(u64::from)
        .unwrap_or(worst_completion);
    let worst = s
        .prices
        .get(model)
        .map(|p| p.cost(worst_prompt, 0, worst_completion))
        .unwrap_or(Money::ZERO);
    match s.budget.reserve(run.store, run.ctx.now, worst).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            tracing::warn!(%why, "budget reached");
            return Err(stop(why));
        }
        Err(e) => return Err(CallError::Failed(format!("{e:#}"))),
    }
    let answer = tokio::select! {
        c = s.client.complete(system, user) => Some(c),
        _ = run.ctx.cancel.cancelled() => None,
    };
    let completion = match answer {
        None => {
            s.budget.release(worst).await;
            return Err(stop(
                "scoring was interrupted by shutdown; the next run scores these papers".into(),
            ));
        }
        Some(Err(LlmError::Fatal(why))) => {
            s.budget.release(worst).await;
            tracing::error!(%why, "model scoring stopped for this run");
            return Err(stop(why));
        }
        Some(Err(LlmError::Failed(why))) => {
            s.budget.release(worst).await;
            return Err(CallError::Failed(why));
        }
        Some(Ok(c)) => c,
    };
    let usage = completion.usage.unwrap_or_else(|| {
        tracing::warn!("the model endpoint reported no token usage; the call is recorded with 0 tokens and an unknown cost");
        llm::Usage::default()
    });
    let price = match (completion.usage.is_some(), s.prices.get(model)) {
        (true, None) => {
            tracing::warn!(model, "no price known for this model: spend recorded with an unknown cost; add [llm.prices] to paperboy.toml");
            None
        }
        (has_usage, price) => price.filter(|_| has_usage),
    };
    let row = SpendRow {
        run_id: Some(run.run_id),
        papers,
        ..spend_of(model, usage, price, stage)
    };
    Ok(Paid {
        text: completion.text,
        rows: row.split(shares),
        worst,
    })
}

/// Records a call's ledger rows and what it decided in one transaction, then releases its
/// budget reservation: a crash never keeps a paid answer without its record, or the reverse.
async fn record(
    run: &Run<'_>,
    paid: Paid,
    save: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    let rows = paid.rows;
    run.store
        .call(move |c| {
            let tx = c.transaction()?;
            for row in &rows {
                crate::store::spend::record(&tx, row)?;
            }
            save(&tx)?;
            tx.commit()
        })
        .await?;
    run.scorer.budget.release(paid.worst).await;
    Ok(())
}
