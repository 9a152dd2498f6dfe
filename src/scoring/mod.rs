//! Scoring: a stage of its own. Input: per reader profile, the papers that need a verdict.
//! Output: verdicts (stored, keyed by paper, profile, model and prompt version) and, for papers
//! that could not be scored, the reason. Every model call goes through `meter` (the budget
//! reserved before, a row in the spend ledger after).

pub mod budget;
mod group;
pub mod keyword;
pub mod meaning;
pub mod meter;

pub mod prices;
pub mod prompt;
pub mod rank;
pub mod reply;
pub mod tldr;

use std::collections::{HashMap, HashSet};

use crate::domain::Subscriber;
use crate::domain::{Paper, PaperId, Verdict};
use crate::store::verdicts::VerdictKey;
use crate::store::Store;
use prompt::Prompts;

/// Per reader, the nearest papers the embedding stage sends straight to a verdict however
/// little they stand out.
pub const ALWAYS_NEAREST: u32 = 3;

pub enum Scorer {
    Llm(Box<LlmScorer>),
    /// No `[llm]` configured: nearness to the reader's topics by the embedding model (when there
    /// is one), with keywords and topic words against title and abstract.
    Keyword {
        embedder: Option<crate::llm::embed::Embedder>,
    },
}

pub struct LlmScorer {
    /// The only way to the model: budget reserved before, spend recorded after.
    pub meter: meter::Meter,
    pub prompts: Prompts,
    /// Papers per verdict call.
    pub batch_size: usize,
    pub concurrency: usize,
    pub reask_attempts: u32,
    /// Run the title triage before the full verdicts.
    pub triage: bool,
    /// Titles per triage call.
    pub triage_batch_size: usize,
    /// A one-sentence TL;DR per paper shown, once per language (`[llm] tldr`).
    pub tldr: bool,
    /// The model's context window in tokens: every prompt and its answer fit in it.
    pub context_tokens: u64,
    /// The embedding prefilter (`[embeddings]`, when the meter has an embedding endpoint): per
    /// reader the `top_k` nearest papers no less similar than `min_similarity` get a verdict.
    pub top_k: usize,
    pub min_z: f32,
    pub min_similarity: f32,
    /// Texts per embedding request.
    pub embed_batch_size: usize,
}

impl LlmScorer {
    /// The key of the title triage's decisions for `subscriber`'s profile.
    pub fn title_triage_key(&self, subscriber: &Subscriber) -> VerdictKey {
        VerdictKey {
            profile_hash: subscriber.profile_hash(),
            model: self.meter.model().to_string(),
            prompt_version: self.prompts.triage_version().to_string(),
        }
    }

    /// The key of the embedding prefilter's decisions: the embedding model, and the settings
    /// that decide what is kept.
    pub fn nearest_key(&self, subscriber: &Subscriber) -> VerdictKey {
        VerdictKey {
            profile_hash: subscriber.profile_hash(),
            model: self.meter.embedding_model().unwrap_or_default().to_string(),
            prompt_version: format!(
                "nearest-v2:top{}:z{:.2}:min{:.3}",
                self.top_k, self.min_z, self.min_similarity
            ),
        }
    }
}

/// The papers one reader profile needs verdicts for, and everyone who has that profile.
pub struct Job<'p> {
    /// Not empty; they share one profile (the first stands for it in the prompt).
    pub subscribers: Vec<Subscriber>,
    /// Borrowed from the day's announcement: a paper is held once however many readers it has.
    pub papers: Vec<&'p Paper>,
}

impl Job<'_> {
    pub fn profile_hash(&self) -> String {
        self.subscribers[0].profile_hash()
    }

    /// From which relevance the model writes a comment: one below the lowest threshold of the
    /// profile's readers, so papers that pass or nearly pass say why.
    pub fn comment_bar(&self) -> u8 {
        let min = self
            .subscribers
            .iter()
            .map(|s| s.min_relevance.get())
            .min()
            .unwrap_or(7);
        min.saturating_sub(1).max(1)
    }
}

#[derive(Debug, Default)]
pub struct JobResult {
    pub verdicts: HashMap<PaperId, Verdict>,
    /// Papers without a verdict, with the reason.
    pub unscored: HashMap<PaperId, crate::domain::problem::Problem>,
    /// Papers the title triage judged not worth a full verdict for this profile.
    pub dropped: HashSet<PaperId>,
}

impl Scorer {
    pub fn key(&self, subscriber: &Subscriber) -> VerdictKey {
        match self {
            Scorer::Llm(s) => VerdictKey {
                profile_hash: subscriber.profile_hash(),
                model: s.meter.model().to_string(),
                prompt_version: s.prompts.version().to_string(),
            },
            Scorer::Keyword { embedder: Some(e) } => VerdictKey {
                profile_hash: subscriber.profile_hash(),
                model: format!("{}+{}", keyword::MODEL, e.model()),
                prompt_version: format!("{}+{}", keyword::VERSION, meaning::VERSION),
            },
            Scorer::Keyword { embedder: None } => keyword_key(subscriber),
        }
    }

    /// The key of the title triage's decisions (the stage that can leave a paper without a
    /// verdict), when it is on.
    pub fn triage_key(&self, subscriber: &Subscriber) -> Option<VerdictKey> {
        match self {
            Scorer::Llm(s) if s.triage => Some(s.title_triage_key(subscriber)),
            _ => None,
        }
    }

    /// The key of the embedding stage's places (rank, cosine, nearness), when there is an
    /// embedding model in the model's scoring.
    pub fn nearest_key(&self, subscriber: &Subscriber) -> Option<VerdictKey> {
        match self {
            Scorer::Llm(s) if s.meter.embedding_model().is_some() => {
                Some(s.nearest_key(subscriber))
            }
            _ => None,
        }
    }

    /// A short description for logs, the run record and the digest.
    pub fn describe(&self) -> String {
        match self {
            Scorer::Llm(s) => format!("{} at {}", s.meter.model(), s.meter.base_url()),
            Scorer::Keyword { embedder: Some(e) } => format!(
                "meaning ({}) and keywords (no model configured)",
                crate::llm::local::shown_name(e.model())
            ),
            Scorer::Keyword { embedder: None } => {
                "keyword scorer (no model configured)".to_string()
            }
        }
    }

    /// The model's name as readers see it (never its endpoint), or "keywords".
    pub fn model_name(&self) -> String {
        match self {
            Scorer::Llm(s) => s.meter.model().to_string(),
            Scorer::Keyword { embedder: Some(e) } => {
                format!("{} and keywords", crate::llm::local::shown_name(e.model()))
            }
            Scorer::Keyword { embedder: None } => "keywords".to_string(),
        }
    }

    pub fn is_keyword(&self) -> bool {
        matches!(self, Scorer::Keyword { .. })
    }

    /// Scores every job (one per distinct profile), storing verdicts and spend as calls complete.
    /// `on_progress(pairs_done)` is called as (paper, profile) pairs are settled.
    pub async fn score(
        &self,
        store: &Store,
        run_id: i64,
        jobs: Vec<Job<'_>>,
        on_progress: &(dyn Fn(usize) + Sync),
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<HashMap<String, JobResult>> {
        match self {
            Scorer::Keyword { embedder } => {
                let subs: Vec<&Subscriber> = jobs.iter().map(|j| &j.subscribers[0]).collect();
                let papers: Vec<Vec<&Paper>> = jobs.iter().map(|j| j.papers.clone()).collect();
                let near = match embedder {
                    Some(e) => match meaning::nearness(store, e, &subs, &papers)
                        .await
                        .inspect(|_| e.release())?
                    {
                        Ok(n) => Some(n),
                        Err(why) => {
                            tracing::warn!(error = %why, "the embedding model failed: scoring by keywords alone this run");
                            None
                        }
                    },
                    None => None,
                };
                let mut out = HashMap::new();
                for (i, job) in jobs.iter().enumerate() {
                    let sub = &job.subscribers[0];
                    let terms = keyword::Terms::of(sub);
                    let pieces = rank::pieces(sub);
                    let verdicts: Vec<(PaperId, Verdict)> = job
                        .papers
                        .iter()
                        .map(|p| {
                            let v = match &near {
                                Some(n) => meaning::verdict(p, &terms, n[i].get(&p.id), &pieces),
                                None => keyword::score(p, &terms),
                            };
                            (p.id.clone(), v)
                        })
                        .collect();
                    let key = match near {
                        Some(_) => self.key(sub),
                        None => keyword_key(sub),
                    };
                    store.save_verdicts(&key, verdicts.clone(), run_id).await?;
                    on_progress(verdicts.len());
                    out.insert(
                        job.profile_hash(),
                        JobResult {
                            verdicts: verdicts.into_iter().collect(),
                            ..Default::default()
                        },
                    );
                }
                Ok(out)
            }
            Scorer::Llm(s) => {
                let keys = |job: &Job| {
                    let sub = &job.subscribers[0];
                    group::Keys {
                        verdict: self.key(sub),
                        triage: s.title_triage_key(sub),
                        nearest: s.nearest_key(sub),
                    }
                };
                group::score(s, keys, store, run_id, jobs, on_progress, ctx).await
            }
        }
    }
}

/// The key of the keyword scorer's verdicts (words alone).
fn keyword_key(subscriber: &Subscriber) -> VerdictKey {
    VerdictKey {
        profile_hash: subscriber.profile_hash(),
        model: keyword::MODEL.to_string(),
        prompt_version: keyword::VERSION.to_string(),
    }
}

/// What scoring needs from the run: when it is (for the budget) and whether to stop.
pub struct ScoreContext<'a> {
    pub now: chrono::DateTime<chrono::Utc>,
    pub cancel: &'a tokio_util::sync::CancellationToken,
}
