//! Scoring for the whole group at once, so the cost grows with papers rather than readers ×
//! papers. Each distinct reader profile is a reader, labelled `R1…Rn` for the run.
//!
//! 0. Order (with an embedding model): each reader's papers nearest first; the likely ones go
//!    straight to a verdict, the rest to the triage. It never leaves a paper out.
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

use std::collections::HashMap;
use std::sync::Mutex;

use futures::StreamExt as _;

mod nearest;
pub(super) use nearest::{
    closeness, dot, library_texts, paper_text, profile_pieces, robust_scale, text_hash,
    LIBRARY_SIGNALS,
};
mod pack;
mod triage;
mod verdicts;
mod window;

use super::keyword;
use super::meter::Reserved;
use super::prompt::ReaderBlock;
use super::{Job, JobResult, LlmScorer, ScoreContext};
use crate::domain::problem::{Kind, Problem};
use crate::domain::Paper;
use crate::llm::LlmError;
use crate::store::spend::{SpendRow, Stage};
use crate::store::verdicts::Decided;
use crate::store::verdicts::VerdictKey;
use crate::store::Store;

/// Verdict lines per call at most, so an answer stays well within a model's output limit.
const MAX_PAIRS_PER_CALL: usize = 800;

struct Reader<'a> {
    label: String,
    job: &'a Job<'a>,
    profile: String,
    /// "more like N" titles: given with the papers, as data.
    examples: String,
    comment_bar: u8,
    key: VerdictKey,
    triage_key: VerdictKey,
    nearest_key: VerdictKey,
    terms: keyword::Terms,
    /// Subscribed themselves by mail (a stranger's words are in its profile): no text shown to
    /// other readers — the English TL;DR — is written in a call that carries it.
    stranger: bool,
}

/// The examples of the readers `in_call`, for the user message.
fn examples_of<'r>(
    run: &'r Run<'_>,
    in_call: impl Iterator<Item = &'r usize>,
) -> Vec<(&'r str, &'r str)> {
    in_call
        .map(|&r| {
            (
                run.readers[r].label.as_str(),
                run.readers[r].examples.as_str(),
            )
        })
        .filter(|(_, e)| !e.is_empty())
        .collect()
}

impl Reader<'_> {
    fn block(&self, verdicts: bool) -> ReaderBlock<'_> {
        ReaderBlock {
            label: &self.label,
            profile: &self.profile,
            comment_bar: verdicts.then_some(self.comment_bar),
        }
    }

    /// Bytes this reader adds to a prompt: its topics (with their heading) and its examples.
    fn bytes(&self) -> usize {
        self.profile.len() + self.examples.len() + 80
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

/// The keys a reader's stored decisions are found by.
pub(super) struct Keys {
    pub verdict: VerdictKey,
    pub triage: VerdictKey,
    pub nearest: VerdictKey,
}

/// What a run's scoring shares across its calls.
struct Run<'a> {
    scorer: &'a LlmScorer,
    store: &'a Store,
    run_id: i64,
    ctx: &'a ScoreContext<'a>,
    readers: Vec<Reader<'a>>,
    /// Set when no further call can succeed this run (budget, rejected key, shutdown).
    stop: Mutex<Option<Problem>>,
    /// The model's context window, lowered by every refusal for length.
    window: window::Window,
    on_progress: &'a (dyn Fn(usize) + Sync),
    /// Every paper's text as the keyword rules read it, made once for all readers.
    texts: HashMap<crate::domain::PaperId, keyword::Normalised>,
}

impl Run<'_> {
    /// Whether one of reader `r`'s keywords or followed authors keeps `p` without asking.
    fn keyword_keeps(&self, r: usize, p: &Paper) -> bool {
        match self.texts.get(&p.id) {
            Some(text) => self.readers[r].terms.must_look_in(p, text),
            None => self.readers[r].terms.must_look(p),
        }
    }
}

/// Why a call gave no answer.
enum CallError {
    /// Nothing more can be asked this run.
    Stop(Problem),
    /// This call failed after its retries; others may still work.
    Failed(Problem),
    /// The endpoint refused the prompt as longer than its window: split it and ask again.
    TooLong,
}

/// An answer with its ledger rows and budget reservation, to be recorded with what it decided.
struct Paid {
    text: String,
    rows: Vec<SpendRow>,
    reserved: Reserved,
}

/// Papers with the readers (indices) they are asked about in one call.
type Chunk<'p> = Vec<(&'p Paper, Vec<usize>)>;

pub(super) async fn score(
    scorer: &LlmScorer,
    keys: impl Fn(&Job) -> Keys,
    store: &Store,
    run_id: i64,
    mut jobs: Vec<Job<'_>>,
    on_progress: &(dyn Fn(usize) + Sync),
    ctx: &ScoreContext<'_>,
) -> anyhow::Result<HashMap<String, JobResult>> {
    // Labels in a stable order, so the day's calls share their prefix.
    jobs.sort_by_key(|j| j.profile_hash());
    let strangers = store.self_subscribed().await?;
    let readers: Vec<Reader> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let Keys {
                verdict: key,
                triage: triage_key,
                nearest: nearest_key,
            } = keys(job);
            Reader {
                label: format!("R{}", i + 1),
                job,
                profile: job.subscribers[0].profile_text(),
                examples: job.subscribers[0].examples_text(),
                comment_bar: job.comment_bar(),
                key,
                triage_key,
                nearest_key,
                terms: keyword::Terms::of(&job.subscribers[0])
                    .with_authors(job.subscribers.iter().flat_map(|s| s.authors.clone())),
                stranger: job
                    .subscribers
                    .iter()
                    .any(|s| strangers.contains(s.email.as_str())),
            }
        })
        .collect();
    let texts = jobs
        .iter()
        .flat_map(|j| j.papers.iter())
        .map(|p| (p.id.clone(), *p))
        .collect::<HashMap<_, _>>()
        .into_iter()
        .map(|(id, p)| (id, keyword::Normalised::of(p)))
        .collect();
    let run = Run {
        scorer,
        store,
        run_id,
        ctx,
        readers,
        stop: Mutex::new(None),
        window: window::Window::new(scorer.context_tokens),
        on_progress,
        texts,
    };
    let mut results: Vec<JobResult> = jobs.iter().map(|_| JobResult::default()).collect();
    // The pairs still to score, per reader.
    let mut pending: Vec<Vec<&Paper>> = jobs.iter().map(|j| j.papers.clone()).collect();

    if scorer.meter.embedding_model().is_some() {
        let ordered = nearest::order(&run, &mut pending).await?;
        scorer.meter.embedding_done();
        match ordered {
            Ok(mut rest) => {
                if scorer.triage {
                    triage::triage(&run, &mut rest, &mut results).await?;
                }
                for (r, more) in rest.into_iter().enumerate() {
                    pending[r].extend(more);
                }
            }
            Err(why) if matches!(why.kind, Kind::Budget | Kind::Interrupted) => {
                unscored_all(&run, &mut pending, &mut results, &why);
            }
            Err(why) if scorer.triage => {
                tracing::warn!(error = %why, "the embedding stage failed; the title triage reads every paper in the day's order");
                store
                    .note_run(
                        run_id,
                        &format!(
                            "the embedding stage failed ({why}); the title triage read every paper"
                        ),
                    )
                    .await?;
                triage::triage(&run, &mut pending, &mut results).await?;
            }
            Err(why) => {
                tracing::warn!(error = %why, "the embedding stage failed; every paper gets a full verdict");
                store
                    .note_run(
                        run_id,
                        &format!(
                            "the embedding stage failed ({why}); every paper got a full verdict"
                        ),
                    )
                    .await?;
            }
        }
    } else if scorer.triage {
        triage::triage(&run, &mut pending, &mut results).await?;
    }
    verdicts::verdicts(&run, pending, &mut results).await?;

    Ok(jobs
        .iter()
        .zip(results)
        .map(|(j, r)| (j.profile_hash(), r))
        .collect())
}

/// Every pending pair as unscored for `why` (scoring stopped before they were asked).
fn unscored_all(
    run: &Run<'_>,
    pending: &mut [Vec<&Paper>],
    results: &mut [JobResult],
    why: &Problem,
) {
    for (r, papers) in pending.iter_mut().enumerate() {
        for p in papers.drain(..) {
            results[r].unscored.insert(p.id.clone(), why.clone());
            (run.on_progress)(1);
        }
    }
}

/// What the packing measures `readers`' prompts by, under the window's current bound.
fn sizes<'s>(run: &Run<'_>, profile: &'s [usize], base: usize) -> pack::Sizes<'s> {
    pack::Sizes {
        profile,
        base,
        limit_tokens: run.window.limit(),
    }
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

/// Makes one model call within the budget (the metered path); the answer comes back with its
/// ledger rows (split across `shares`) and its reservation, for [`record`].
async fn call(
    run: &Run<'_>,
    system: &str,
    user: &str,
    papers: usize,
    worst_completion: u64,
    stage: Stage,
    shares: &[(String, String, u64)],
) -> Result<Paid, CallError> {
    let stopped = || run.stop.lock().unwrap().clone();
    let stop = |why: Problem| {
        run.stop.lock().unwrap().get_or_insert(why.clone());
        CallError::Stop(why)
    };
    if let Some(why) = stopped() {
        return Err(CallError::Stop(why));
    }
    // A prompt that would not fit is never sent: the caller splits it.
    let size = window::estimate(system, user, worst_completion);
    if !run.window.fits(size) {
        return Err(CallError::TooLong);
    }
    let meter = &run.scorer.meter;
    let worst = meter.worst_cost(
        system.len() + user.len(),
        worst_completion.min(window::MAX_ANSWER),
    );
    let reserved = match meter.reserve(run.store, run.ctx.now, worst).await {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => {
            tracing::warn!(%why, "budget reached");
            return Err(stop(Problem::new(Kind::Budget, why)));
        }
        Err(e) => {
            return Err(CallError::Failed(Problem::new(
                Kind::Local,
                format!("{e:#}"),
            )))
        }
    };
    let answer = tokio::select! {
        c = meter.complete(&reserved, system, user) => Some(c),
        _ = run.ctx.cancel.cancelled() => None,
    };
    let completion = match answer {
        None => {
            meter.release(reserved).await;
            return Err(stop(Problem::new(
                Kind::Interrupted,
                "scoring was interrupted by shutdown; the next run scores these papers",
            )));
        }
        Some(Err(LlmError(why))) if why.kind == Kind::ModelContextTooLong => {
            meter.release(reserved).await;
            run.window.refused(size, &why.detail);
            return Err(CallError::TooLong);
        }
        Some(Err(LlmError(why))) if why.stops_scoring() => {
            meter.release(reserved).await;
            tracing::error!(%why, "model scoring stopped for this run");
            return Err(stop(why));
        }
        Some(Err(LlmError(why))) => {
            meter.release(reserved).await;
            return Err(CallError::Failed(why));
        }
        Some(Ok(c)) => c,
    };
    let row = SpendRow {
        run_id: Some(run.run_id),
        papers,
        ..meter.spend_row(completion.usage, stage)
    };
    Ok(Paid {
        text: completion.text,
        rows: row.split(shares),
        reserved,
    })
}

/// Records a call's ledger rows and what it decided in one transaction, then releases its
/// budget reservation: a crash never keeps a paid answer without its record, or the reverse.
async fn record(run: &Run<'_>, paid: Paid, decided: Decided) -> anyhow::Result<()> {
    let saved = run
        .store
        .record_paid_call(paid.rows, decided, run.run_id)
        .await;
    run.scorer.meter.release(paid.reserved).await;
    saved
}
