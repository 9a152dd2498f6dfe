//! Scoring: a stage of its own. Input: per reader profile, the papers that need a verdict.
//! Output: verdicts (stored, keyed by paper, profile, model and prompt version) and, for papers
//! that could not be scored, the reason. Every model call is a row in the spend ledger.

pub mod budget;
pub mod keyword;
pub mod llm;
pub mod prices;
pub mod prompt;
pub mod reply;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;

use crate::domain::{ArxivId, Paper, Verdict};
use crate::store::spend::SpendRow;
use crate::store::verdicts::VerdictKey;
use crate::store::Store;
use crate::subscribers::Subscriber;
use llm::{LlmClient, LlmError};
use prices::PriceTable;
use prompt::Prompts;

pub enum Scorer {
    Llm(Box<LlmScorer>),
    /// No API key configured: keywords and topic words against title and abstract.
    Keyword,
}

pub struct LlmScorer {
    pub client: LlmClient,
    pub budget: budget::Budget,
    pub prompts: Prompts,
    pub prices: PriceTable,
    pub batch_size: usize,
    pub concurrency: usize,
    pub reask_attempts: u32,
}

/// The papers one reader profile needs verdicts for.
pub struct Job {
    pub subscriber: Subscriber,
    pub papers: Vec<Paper>,
}

#[derive(Debug, Default)]
pub struct JobResult {
    pub verdicts: HashMap<ArxivId, Verdict>,
    /// Papers without a verdict, with the reason.
    pub unscored: HashMap<ArxivId, String>,
}

impl Scorer {
    pub fn key(&self, subscriber: &Subscriber) -> VerdictKey {
        match self {
            Scorer::Llm(s) => VerdictKey {
                profile_hash: subscriber.profile_hash(),
                model: s.client.model().to_string(),
                prompt_version: s.prompts.version().to_string(),
            },
            Scorer::Keyword => VerdictKey {
                profile_hash: subscriber.profile_hash(),
                model: keyword::MODEL.to_string(),
                prompt_version: keyword::VERSION.to_string(),
            },
        }
    }

    /// A short description for logs, the run record and the digest.
    pub fn describe(&self) -> String {
        match self {
            Scorer::Llm(s) => format!("{} at {}", s.client.model(), s.client.base_url()),
            Scorer::Keyword => "keyword scorer (no model API key configured)".to_string(),
        }
    }

    pub fn is_keyword(&self) -> bool {
        matches!(self, Scorer::Keyword)
    }

    /// Scores every job (one per distinct profile), storing verdicts and spend as calls complete.
    /// `on_progress(papers_done)` is called as batches finish.
    pub async fn score(
        &self,
        store: &Store,
        run_id: i64,
        jobs: Vec<Job>,
        on_progress: &(dyn Fn(usize) + Sync),
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<HashMap<String, JobResult>> {
        match self {
            Scorer::Keyword => {
                let mut out = HashMap::new();
                for job in jobs {
                    let terms = keyword::Terms::of(&job.subscriber);
                    let verdicts: Vec<(ArxivId, Verdict)> = job
                        .papers
                        .iter()
                        .map(|p| (p.id.clone(), keyword::score(p, &terms)))
                        .collect();
                    let key = self.key(&job.subscriber);
                    let to_store = verdicts.clone();
                    store
                        .call(move |c| {
                            crate::store::verdicts::save(c, &key, &to_store, Some(run_id))
                        })
                        .await?;
                    on_progress(verdicts.len());
                    out.insert(
                        job.subscriber.profile_hash(),
                        JobResult {
                            verdicts: verdicts.into_iter().collect(),
                            unscored: HashMap::new(),
                        },
                    );
                }
                Ok(out)
            }
            Scorer::Llm(s) => s.score(self, store, run_id, jobs, on_progress, ctx).await,
        }
    }
}

/// The ledger row of one model call outside a run: its tokens, priced by `price` (an unknown
/// price gives an unknown cost, never $0).
pub fn spend_of(model: &str, usage: llm::Usage, price: Option<prices::Price>) -> SpendRow {
    SpendRow {
        run_id: None,
        subscriber: None,
        profile_hash: None,
        model: model.to_string(),
        papers: 0,
        prompt_tokens: usage.prompt_tokens,
        cached_tokens: usage.cached_tokens,
        completion_tokens: usage.completion_tokens,
        cost: price.map(|p| {
            p.cost(
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.completion_tokens,
            )
        }),
    }
}

/// What scoring needs from the run: when it is (for the budget) and whether to stop.
pub struct ScoreContext<'a> {
    pub now: chrono::DateTime<chrono::Utc>,
    pub cancel: &'a tokio_util::sync::CancellationToken,
}

struct Batch {
    profile_hash: String,
    subscriber: Arc<Subscriber>,
    papers: Vec<Paper>,
}

impl LlmScorer {
    fn max_completion_tokens(&self) -> Option<u64> {
        self.client.max_completion_tokens().map(u64::from)
    }

    async fn score(
        &self,
        scorer: &Scorer,
        store: &Store,
        run_id: i64,
        jobs: Vec<Job>,
        on_progress: &(dyn Fn(usize) + Sync),
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<HashMap<String, JobResult>> {
        let mut batches = Vec::new();
        let mut results: HashMap<String, JobResult> = HashMap::new();
        for job in jobs {
            let hash = job.subscriber.profile_hash();
            results.entry(hash.clone()).or_default();
            let subscriber = Arc::new(job.subscriber);
            for chunk in job.papers.chunks(self.batch_size) {
                batches.push(Batch {
                    profile_hash: hash.clone(),
                    subscriber: subscriber.clone(),
                    papers: chunk.to_vec(),
                });
            }
        }
        let abort: Mutex<Option<String>> = Mutex::new(None);
        let aborted = AtomicBool::new(false);
        let outcomes: Vec<(String, anyhow::Result<JobResult>)> = futures::stream::iter(batches)
            .map(|batch| {
                let abort = &abort;
                let aborted = &aborted;
                async move {
                    let hash = batch.profile_hash.clone();
                    let n = batch.papers.len();
                    let r = self
                        .score_batch(scorer, store, run_id, batch, abort, aborted, ctx)
                        .await;
                    on_progress(n);
                    (hash, r)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (hash, outcome) in outcomes {
            let r = outcome?;
            let entry = results.entry(hash).or_default();
            entry.verdicts.extend(r.verdicts);
            entry.unscored.extend(r.unscored);
        }
        Ok(results)
    }

    #[allow(clippy::too_many_arguments)]
    async fn score_batch(
        &self,
        scorer: &Scorer,
        store: &Store,
        run_id: i64,
        batch: Batch,
        abort: &Mutex<Option<String>>,
        aborted: &AtomicBool,
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<JobResult> {
        let mut result = JobResult::default();
        let key = scorer.key(&batch.subscriber);
        let system = self.prompts.system(&batch.subscriber.profile_text());
        let mut pending: Vec<Paper> = batch.papers;
        let mut last_problem = String::new();
        for ask in 0..=self.reask_attempts {
            if pending.is_empty() {
                break;
            }
            if aborted.load(Ordering::SeqCst) {
                let why = abort.lock().unwrap().clone().unwrap_or_default();
                for p in pending.drain(..) {
                    result.unscored.insert(p.id, why.clone());
                }
                return Ok(result);
            }
            let refs: Vec<&Paper> = pending.iter().collect();
            let user = Prompts::user(&refs);
            let stop = |why: String, pending: &mut Vec<Paper>, result: &mut JobResult| {
                *abort.lock().unwrap() = Some(why.clone());
                aborted.store(true, Ordering::SeqCst);
                for p in pending.drain(..) {
                    result.unscored.insert(p.id, why.clone());
                }
            };
            // The worst this call can cost: prompt tokens counted generously, the longest answer.
            let worst_prompt = ((system.len() + user.len()) / 3) as u64;
            let worst_completion = self
                .max_completion_tokens()
                .unwrap_or(150 * pending.len() as u64 + 100);
            let worst = self
                .prices
                .get(self.client.model())
                .map(|p| p.cost(worst_prompt, 0, worst_completion))
                .unwrap_or(crate::domain::Money::ZERO);
            if let Err(why) = self.budget.reserve(store, ctx.now, worst).await? {
                tracing::warn!(%why, "budget reached");
                stop(why, &mut pending, &mut result);
                return Ok(result);
            }
            let call = tokio::select! {
                c = self.client.complete(&system, &user) => Some(c),
                _ = ctx.cancel.cancelled() => None,
            };
            let Some(call) = call else {
                self.budget.release(worst).await;
                stop(
                    "scoring was interrupted by shutdown; the next run scores these papers".into(),
                    &mut pending,
                    &mut result,
                );
                return Ok(result);
            };
            let completion = match call {
                Ok(c) => c,
                Err(e) => {
                    self.budget.release(worst).await;
                    match e {
                        LlmError::Fatal(why) => {
                            tracing::error!(%why, "model scoring stopped for this run");
                            stop(why, &mut pending, &mut result);
                        }
                        LlmError::Failed(why) => {
                            for p in pending.drain(..) {
                                result.unscored.insert(p.id, why.clone());
                            }
                        }
                    }
                    return Ok(result);
                }
            };
            let ids: Vec<ArxivId> = pending.iter().map(|p| p.id.clone()).collect();
            let parsed = reply::parse(&completion.text, &ids);
            for problem in &parsed.problems {
                tracing::warn!(subscriber = %batch.subscriber.email, %problem, "discarded part of the model's answer");
            }
            let usage = completion.usage.unwrap_or_else(|| {
                tracing::warn!("the model endpoint reported no token usage; the call is recorded with 0 tokens and an unknown cost");
                llm::Usage::default()
            });
            let price = match (
                completion.usage.is_some(),
                self.prices.get(self.client.model()),
            ) {
                (true, None) => {
                    tracing::warn!(model = self.client.model(), "no price known for this model: spend recorded with an unknown cost; add [llm.prices] to paperboy.toml");
                    None
                }
                (has_usage, price) => price.filter(|_| has_usage),
            };
            let row = SpendRow {
                run_id: Some(run_id),
                subscriber: Some(batch.subscriber.email.to_string()),
                profile_hash: Some(batch.profile_hash.clone()),
                papers: pending.len(),
                ..spend_of(self.client.model(), usage, price)
            };
            let verdicts = parsed.verdicts;
            let key2 = key.clone();
            let to_store = verdicts.clone();
            store
                .call(move |c| {
                    crate::store::spend::record(c, &row)?;
                    crate::store::verdicts::save(c, &key2, &to_store, Some(run_id))
                })
                .await?;
            self.budget.release(worst).await;
            for (id, v) in verdicts {
                result.verdicts.insert(id, v);
            }
            pending.retain(|p| !result.verdicts.contains_key(&p.id));
            if !pending.is_empty() {
                last_problem = parsed
                    .problems
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "no verdict in the answer".into());
                tracing::info!(
                    missing = pending.len(),
                    ask = ask + 1,
                    "the model left papers out; asking again"
                );
            }
        }
        for p in pending {
            result.unscored.insert(
                p.id,
                format!(
                    "the model gave no valid verdict after {} asks (last problem: {last_problem})",
                    self.reask_attempts + 1
                ),
            );
        }
        Ok(result)
    }
}
