//! Stage 2: full verdicts (relevance, novelty, comment) for the kept pairs, several readers per
//! call, each abstract sent once per call.

use std::collections::{BTreeSet, HashMap};

use super::MAX_PAIRS_PER_CALL;
use super::{call, in_flight, pack, record, shares, CallError, Chunk, Paid, Run};
use crate::domain::problem::{Kind, Problem};
use crate::domain::{Paper, PaperId, Verdict};
use crate::scoring::prompt::{Prompts, ReaderBlock};
use crate::scoring::{reply, JobResult};
use crate::store::verdicts::{Decided, VerdictKey};

/// Stage 2: full verdicts for the pending pairs, packed by reader into calls that fit.
pub(super) async fn verdicts(
    run: &Run<'_>,
    pending: Vec<Vec<&Paper>>,
    results: &mut [JobResult],
) -> anyhow::Result<()> {
    if pending.iter().all(Vec::is_empty) {
        return Ok(());
    }
    let profile: Vec<usize> = run.readers.iter().map(|r| r.bytes()).collect();
    let base = run
        .scorer
        .prompts
        .verdict_system(&[], run.scorer.tldr)
        .len()
        + 200;
    let chunks = pack::verdict_chunks(
        &pending,
        &super::sizes(run, &profile, base),
        run.scorer.batch_size,
        MAX_PAIRS_PER_CALL,
    );
    let total_pairs: usize = chunks.iter().flatten().map(|c| c.1.len()).sum();
    tracing::info!(pairs = total_pairs, calls = chunks.len(), "full verdicts");
    let mut calls = Vec::new();
    for chunk in chunks {
        calls.push(verdict_calls(run, chunk));
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
    Vec<(usize, PaperId, Verdict)>,
    Vec<(usize, PaperId, Problem)>,
);

/// The calls of one packed chunk: itself, or its halves (and theirs) when it does not fit the
/// window or the endpoint refuses it as too long, one after another.
async fn verdict_calls(run: &Run<'_>, chunk: Chunk<'_>) -> anyhow::Result<VerdictOutcome> {
    let mut queue = vec![chunk];
    let mut out: VerdictOutcome = (Vec::new(), Vec::new());
    while let Some(chunk) = queue.pop() {
        let (scored, unscored, rest) = verdict_call(run, chunk).await?;
        out.0.extend(scored);
        out.1.extend(unscored);
        if let Some(rest) = rest {
            match pack::halves(rest) {
                Ok((a, b)) => {
                    queue.push(b);
                    queue.push(a);
                }
                Err(one) => {
                    let why = Problem::new(
                        Kind::ModelContextTooLong,
                        format!(
                            "one paper with one reader's topics does not fit the model's window ({} tokens by paperboy's count); raise [llm] context_tokens if the model allows more",
                            run.window.limit()
                        ),
                    );
                    out.1.extend(unscored_pairs(run, one, &why));
                }
            }
        }
    }
    Ok(out)
}

/// One verdict call (and its re-asks for pairs the answer left out): the verdicts, the pairs
/// left unscored, and the pairs to ask again in smaller calls (the prompt did not fit).
async fn verdict_call<'p>(
    run: &Run<'_>,
    chunk: Chunk<'p>,
) -> anyhow::Result<(
    Vec<(usize, PaperId, Verdict)>,
    Vec<(usize, PaperId, Problem)>,
    Option<Chunk<'p>>,
)> {
    let in_call: BTreeSet<usize> = chunk.iter().flat_map(|c| c.1.iter().copied()).collect();
    let blocks: Vec<ReaderBlock> = in_call
        .iter()
        .map(|&r| run.readers[r].block(true))
        .collect();
    // The English TL;DR, shown to every reader of the paper, is written here only when no
    // profile in the call is a stranger's; otherwise the TL;DR call (abstracts alone) writes it.
    let tldr = run.scorer.tldr && in_call.iter().all(|&r| !run.readers[r].stranger);
    let system = run.scorer.prompts.verdict_system(&blocks, tldr);
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
        let paid = match ask_verdicts(run, &system, &todo, &in_call).await {
            Ok(p) => p,
            Err(CallError::TooLong) => return Ok((scored, Vec::new(), Some(todo))),
            Err(CallError::Stop(why) | CallError::Failed(why)) => {
                let unscored = unscored_pairs(run, todo, &why);
                return Ok((scored, unscored, None));
            }
        };
        let answered = save_verdicts(run, paid, &todo, &by_label, tldr, &mut last_problem).await?;
        take_answered(run, &mut todo, answered, &mut scored);
        if !todo.is_empty() {
            tracing::info!(
                missing = todo.iter().map(|c| c.1.len()).sum::<usize>(),
                ask = ask + 1,
                "the model left papers out; asking again"
            );
        }
    }
    let reasks = run.scorer.reask_attempts + 1;
    let why = Problem::new(
        Kind::ModelNoAnswer,
        format!(
            "the model gave no valid verdict after {reasks} asks (last problem: {last_problem})"
        ),
    );
    let unscored = unscored_pairs(run, todo, &why);
    Ok((scored, unscored, None))
}

/// Asks the model (within the budget) for the verdicts of the pairs in `todo`, with the
/// examples of the readers `in_call`.
async fn ask_verdicts(
    run: &Run<'_>,
    system: &str,
    todo: &Chunk<'_>,
    in_call: &BTreeSet<usize>,
) -> Result<Paid, CallError> {
    let listed: Vec<(&Paper, Vec<&str>)> = todo
        .iter()
        .map(|(p, rs)| {
            (
                *p,
                rs.iter().map(|&r| run.readers[r].label.as_str()).collect(),
            )
        })
        .collect();
    let user = Prompts::verdict_user(&listed, &super::examples_of(run, in_call.iter()));
    let (shares, pairs) = shares(run, todo);
    // A comment on every pair at worst; the scores alone are a few tokens a pair.
    // With TL;DRs on, a sentence of 25 words on every paper at worst.
    let tldrs = if run.scorer.tldr { 50 } else { 0 };
    let worst = 60 * pairs as u64 + (30 + tldrs) * todo.len() as u64 + 100;
    call(
        run,
        system,
        &user,
        todo.len(),
        worst,
        crate::store::spend::Stage::Verdict,
        &shares,
    )
    .await
}

/// Reads the verdicts of a paid answer for the pairs `todo` asked (logging what it discarded,
/// its last problem kept in `last_problem`) and records them with the call, and its TL;DRs when
/// they were asked for (`tldr`: a TLDR key nobody asked for is a reader's text talking). Returns
/// the verdicts by reader.
async fn save_verdicts(
    run: &Run<'_>,
    paid: Paid,
    todo: &Chunk<'_>,
    by_label: &HashMap<&str, usize>,
    tldr: bool,
    last_problem: &mut String,
) -> anyhow::Result<HashMap<usize, Vec<(PaperId, Verdict)>>> {
    let asked: HashMap<PaperId, Vec<String>> = todo
        .iter()
        .map(|(p, rs)| {
            let labels = rs.iter().map(|&r| run.readers[r].label.clone()).collect();
            (p.id.clone(), labels)
        })
        .collect();
    let parsed = reply::parse_verdicts(&paid.text, &asked);
    for problem in &parsed.problems {
        tracing::warn!(%problem, "discarded part of the model's answer");
    }
    if let Some(p) = parsed.problems.last() {
        *last_problem = p.clone();
    }
    let mut to_save: HashMap<usize, Vec<(PaperId, Verdict)>> = HashMap::new();
    for (id, label, v) in parsed.verdicts {
        let r = by_label[label.as_str()];
        to_save.entry(r).or_default().push((id, v));
    }
    let saves: Vec<(VerdictKey, Vec<(PaperId, Verdict)>)> = to_save
        .iter()
        .map(|(&r, v)| (run.readers[r].key.clone(), v.clone()))
        .collect();
    let tldrs = tldr.then(|| {
        let english = crate::domain::Language::english().name().to_string();
        let rows = parsed
            .tldrs
            .into_iter()
            .map(|(id, t)| (id, english.clone(), t))
            .collect();
        (run.scorer.tldr_key(), rows)
    });
    record(run, paid, Decided::Verdicts(saves, tldrs)).await?;
    Ok(to_save)
}

/// Moves the `answered` pairs from `todo` to `scored` (counting them as progress); papers with
/// no reader left leave `todo`.
fn take_answered(
    run: &Run<'_>,
    todo: &mut Chunk<'_>,
    answered: HashMap<usize, Vec<(PaperId, Verdict)>>,
    scored: &mut Vec<(usize, PaperId, Verdict)>,
) {
    let mut n = 0;
    for (r, vs) in answered {
        for (id, v) in vs {
            todo.iter_mut()
                .filter(|(p, _)| p.id == id)
                .for_each(|(_, rs)| rs.retain(|&x| x != r));
            scored.push((r, id, v));
            n += 1;
        }
    }
    (run.on_progress)(n);
    todo.retain(|(_, rs)| !rs.is_empty());
}

/// Every pair left in `todo` as unscored for `why`, each counted as progress.
fn unscored_pairs(run: &Run<'_>, todo: Chunk<'_>, why: &Problem) -> Vec<(usize, PaperId, Problem)> {
    let mut unscored = Vec::new();
    for (p, rs) in todo {
        for r in rs {
            unscored.push((r, p.id.clone(), why.clone()));
            (run.on_progress)(1);
        }
    }
    unscored
}
