//! Stage 1, the title triage: which readers each paper is worth a full verdict for.

use std::collections::{BTreeSet, HashMap};

use super::{call, in_flight, pack, record, shares, CallError, Chunk, Paid, Run};
use crate::domain::problem::Problem;
use crate::domain::{Paper, PaperId};
use crate::scoring::prompt::{Prompts, ReaderBlock};
use crate::scoring::{reply, JobResult};
use crate::store::triage::{Decision, Reason};
use crate::store::verdicts::{Decided, VerdictKey};

/// Stage 1: decides for each pending pair whether it is worth a full verdict; drops the others
/// from `pending` (into `results[r].dropped`).
pub(super) async fn triage<'p>(
    run: &Run<'_>,
    pending: &mut [Vec<&'p Paper>],
    results: &mut [JobResult],
) -> anyhow::Result<()> {
    let mut keep: Vec<Vec<&'p Paper>> = vec![Vec::new(); pending.len()];
    let mut ask: Chunk<'p> = Vec::new();
    let mut index: HashMap<PaperId, usize> = HashMap::new();
    for (r, papers) in pending.iter_mut().enumerate() {
        let reader = &run.readers[r];
        let ids: Vec<PaperId> = papers.iter().map(|p| p.id.clone()).collect();
        let known = run.store.triage_decisions(&reader.triage_key, ids).await?;
        let mut by_keyword = Vec::new();
        for p in papers.drain(..) {
            match known.get(&p.id) {
                Some(d) if !d.kept => {
                    results[r].dropped.insert(p.id.clone());
                }
                Some(_) => keep[r].push(p),
                None if run.keyword_keeps(r, p) => {
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
            run.store
                .save_triage(&reader.triage_key, by_keyword, run.run_id)
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

    // The day's titles, with as many readers' topics beside them as fit the window.
    let profile: Vec<usize> = run.readers.iter().map(|r| r.bytes()).collect();
    let base = run.scorer.prompts.triage_system(&[]).len() + 200;
    let chunks = pack::triage_chunks(
        ask,
        &super::sizes(run, &profile, base),
        run.scorer.triage_batch_size,
    );
    // Futures made in a loop rather than a closure, which would need to be general over the
    // papers' lifetime.
    let mut calls = Vec::new();
    for chunk in chunks {
        calls.push(triage_calls(run, chunk));
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
    Vec<(&'p Paper, Vec<usize>, Problem)>,
);

/// The calls of one packed chunk: itself, or its halves (and theirs) when it does not fit the
/// window or the endpoint refuses it as too long, one after another.
async fn triage_calls<'p>(run: &Run<'_>, chunk: Chunk<'p>) -> anyhow::Result<TriageOutcome<'p>> {
    let mut queue = vec![chunk];
    let (mut decided, mut stopped) = (Vec::new(), Vec::new());
    while let Some(chunk) = queue.pop() {
        let (d, s, rest) = triage_call(run, chunk).await?;
        decided.extend(d);
        stopped.extend(s);
        if let Some(rest) = rest {
            match pack::halves(rest) {
                Ok((a, b)) => {
                    queue.push(b);
                    queue.push(a);
                }
                // One title with one reader's topics does not fit: kept for a full verdict.
                Err(one) => keep_unanswered(run, one, &mut decided).await?,
            }
        }
    }
    Ok((decided, stopped))
}

/// One triage call (and its re-asks): the decisions, the pairs left undecided because scoring
/// stopped, and the pairs to ask again in smaller calls (the prompt did not fit).
#[allow(clippy::type_complexity)]
async fn triage_call<'p>(
    run: &Run<'_>,
    chunk: Chunk<'p>,
) -> anyhow::Result<(
    Vec<(&'p Paper, usize, Decision)>,
    Vec<(&'p Paper, Vec<usize>, Problem)>,
    Option<Chunk<'p>>,
)> {
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
        let paid = match ask_triage(run, &system, &todo, &in_call).await {
            Ok(p) => p,
            Err(CallError::TooLong) => return Ok((decided, Vec::new(), Some(todo))),
            Err(CallError::Stop(why)) => {
                return Ok((
                    decided,
                    todo.into_iter()
                        .map(|(p, rs)| (p, rs, why.clone()))
                        .collect(),
                    None,
                ));
            }
            Err(CallError::Failed(why)) => {
                tracing::warn!(error = %why, papers = todo.len(), "title triage failed; those papers get full verdicts");
                break;
            }
        };
        todo = save_triage(run, paid, todo, &labels, &mut decided).await?;
        if !todo.is_empty() {
            tracing::info!(
                missing = todo.len(),
                "the triage answer left papers out; asking again"
            );
        }
    }
    keep_unanswered(run, todo, &mut decided).await?;
    Ok((decided, Vec::new(), None))
}

/// Asks the model (within the budget) which readers `in_call` each paper in `todo` is worth a
/// full verdict for.
async fn ask_triage(
    run: &Run<'_>,
    system: &str,
    todo: &Chunk<'_>,
    in_call: &BTreeSet<usize>,
) -> Result<Paid, CallError> {
    let refs: Vec<&Paper> = todo.iter().map(|c| c.0).collect();
    let user = Prompts::triage_user(&refs, &super::examples_of(run, in_call.iter()));
    let (shares, pairs) = shares(run, todo);
    let worst = pack::triage_answer(todo.len(), pairs);
    call(
        run,
        system,
        &user,
        todo.len(),
        worst,
        crate::store::spend::Stage::Triage,
        &shares,
    )
    .await
}

/// Reads the decisions of a paid triage answer for `todo` (readers `labels`) into `decided`
/// and records them with the call. Returns the pairs the answer left out.
async fn save_triage<'p>(
    run: &Run<'_>,
    paid: Paid,
    todo: Chunk<'p>,
    labels: &[String],
    decided: &mut Vec<(&'p Paper, usize, Decision)>,
) -> anyhow::Result<Chunk<'p>> {
    let ids: Vec<PaperId> = todo.iter().map(|c| c.0.id.clone()).collect();
    let parsed = reply::parse_triage(&paid.text, &ids, labels);
    for problem in &parsed.problems {
        tracing::warn!(%problem, "discarded part of the model's triage answer");
    }
    let answered: HashMap<PaperId, Vec<String>> = parsed.kept.into_iter().collect();
    let mut to_save: HashMap<usize, Vec<(PaperId, Decision)>> = HashMap::new();
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
    let saves: Vec<(VerdictKey, Vec<(PaperId, Decision)>)> = to_save
        .into_iter()
        .map(|(r, d)| (run.readers[r].triage_key.clone(), d))
        .collect();
    record(run, paid, Decided::Triage(saves)).await?;
    Ok(rest)
}

/// Keeps the pairs in `todo`, which got no usable answer, for a full verdict (so a bad answer
/// loses nothing), into `decided` and the store.
async fn keep_unanswered<'p>(
    run: &Run<'_>,
    todo: Chunk<'p>,
    decided: &mut Vec<(&'p Paper, usize, Decision)>,
) -> anyhow::Result<()> {
    let mut to_save: HashMap<usize, Vec<(PaperId, Decision)>> = HashMap::new();
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
        run.store
            .save_triage(&run.readers[r].triage_key, d, run.run_id)
            .await?;
    }
    Ok(())
}
