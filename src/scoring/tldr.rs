//! A paper's TL;DR, written once per language for the whole group: after the verdicts, the
//! papers some reader is shown get one sentence in each language they are shown in, stored with
//! the paper and reused by every reader, the archive and the feed (and by later runs: a paper
//! owed or shown again is not summed up twice). Comments stay per reader, in the verdicts.

use std::collections::HashMap;

use futures::StreamExt as _;

use super::{reply, LlmScorer, ScoreContext, Scorer};
use crate::domain::{Paper, PaperId};
use crate::llm::LlmError;
use crate::store::spend::{SpendRow, Stage};
use crate::store::tldrs::TldrKey;
use crate::store::verdicts::Decided;
use crate::store::Store;

/// Papers per TL;DR call at most.
const PAPERS_PER_CALL: usize = 40;

/// A paper shown in one language, with the readers it is shown to (subscriber, profile hash),
/// whom its TL;DR is charged to.
pub struct TldrWanted<'p> {
    pub paper: &'p Paper,
    /// The language's English name ("German"), as the prompt names it.
    pub language: String,
    pub readers: Vec<(String, String)>,
}

/// TL;DRs by (paper, language name).
pub type Tldrs = HashMap<(PaperId, String), String>;

impl Scorer {
    /// Whether the scorer writes TL;DRs (a model, with `[llm] tldr` on).
    pub fn writes_tldrs(&self) -> bool {
        matches!(self, Scorer::Llm(s) if s.tldr)
    }

    /// The TL;DRs of `wanted`: stored ones, and the rest written now (a call per language and
    /// up to 40 papers). A failed call leaves its papers without one (the digest goes out
    /// without it; the next run that shows them asks again).
    pub async fn tldrs(
        &self,
        store: &Store,
        run_id: i64,
        wanted: Vec<TldrWanted<'_>>,
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<Tldrs> {
        let Scorer::Llm(s) = self else {
            return Ok(Tldrs::new());
        };
        if !s.tldr || wanted.is_empty() {
            return Ok(Tldrs::new());
        }
        let key = s.tldr_key();
        let mut have = store
            .tldrs(
                &key,
                wanted
                    .iter()
                    .map(|w| (w.paper.id.clone(), w.language.clone()))
                    .collect(),
            )
            .await?;
        let mut by_language: std::collections::BTreeMap<&str, Vec<&TldrWanted>> =
            Default::default();
        for w in &wanted {
            if !have.contains_key(&(w.paper.id.clone(), w.language.clone())) {
                by_language.entry(&w.language).or_default().push(w);
            }
        }
        let mut calls = Vec::new();
        for (language, ws) in by_language {
            for batch in s.tldr_batches(language, ws) {
                calls.push(s.tldr_call(store, run_id, &key, language, batch, ctx));
            }
        }
        let written: Vec<anyhow::Result<Vec<(PaperId, String, String)>>> =
            futures::stream::iter(calls)
                .buffer_unordered(s.concurrency)
                .collect()
                .await;
        for w in written {
            for (id, language, text) in w? {
                have.insert((id, language), text);
            }
        }
        Ok(have)
    }
}

impl LlmScorer {
    pub fn tldr_key(&self) -> TldrKey {
        TldrKey {
            model: self.meter.model().to_string(),
            prompt_version: self.prompts.tldr_version().to_string(),
        }
    }

    /// `wanted` in calls of at most [`PAPERS_PER_CALL`] papers that fit the window.
    fn tldr_batches<'w, 'p>(
        &self,
        language: &str,
        wanted: Vec<&'w TldrWanted<'p>>,
    ) -> Vec<Vec<&'w TldrWanted<'p>>> {
        let window = self.context_tokens - self.context_tokens / 10;
        let answer = 60 * PAPERS_PER_CALL as u64 + 50;
        let budget = (window.saturating_sub(answer + 64) * 3) as usize;
        let base = self.prompts.tldr_system(language).len() + 200;
        let mut out: Vec<Vec<&TldrWanted>> = Vec::new();
        let mut batch = Vec::new();
        let mut bytes = base;
        for w in wanted {
            let b = w.paper.title.len() + w.paper.abstract_text.len() + 64;
            if !batch.is_empty() && (batch.len() >= PAPERS_PER_CALL || bytes + b > budget) {
                out.push(std::mem::take(&mut batch));
                bytes = base;
            }
            bytes += b;
            batch.push(w);
        }
        if !batch.is_empty() {
            out.push(batch);
        }
        out
    }

    /// One TL;DR call for `batch` in `language`, metered, its answer stored with its spend.
    async fn tldr_call(
        &self,
        store: &Store,
        run_id: i64,
        key: &TldrKey,
        language: &str,
        batch: Vec<&TldrWanted<'_>>,
        ctx: &ScoreContext<'_>,
    ) -> anyhow::Result<Vec<(PaperId, String, String)>> {
        let papers: Vec<&Paper> = batch.iter().map(|w| w.paper).collect();
        let system = self.prompts.tldr_system(language);
        let user = super::prompt::Prompts::tldr_user(&papers);
        let worst = self
            .meter
            .worst_cost(system.len() + user.len(), 60 * papers.len() as u64 + 50);
        let reserved = match self.meter.reserve(store, ctx.now, worst).await? {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(%why, papers = papers.len(), "no TL;DRs: the budget is reached");
                return Ok(Vec::new());
            }
        };
        let answer = tokio::select! {
            a = self.meter.complete(&reserved, &system, &user) => Some(a),
            _ = ctx.cancel.cancelled() => None,
        };
        let completion = match answer {
            Some(Ok(c)) => c,
            Some(Err(LlmError(why))) => {
                self.meter.release(reserved).await;
                tracing::warn!(error = %why, papers = papers.len(), "the TL;DR call failed; those papers go out without one");
                return Ok(Vec::new());
            }
            None => {
                self.meter.release(reserved).await;
                return Ok(Vec::new());
            }
        };
        let ids: Vec<PaperId> = papers.iter().map(|p| p.id.clone()).collect();
        let (written, problems) = reply::parse_tldrs(&completion.text, &ids);
        for problem in &problems {
            tracing::warn!(%problem, "discarded part of the model's TL;DR answer");
        }
        // Charged to the readers shown each paper, a share per (reader, paper).
        let mut weights: HashMap<(String, String), u64> = HashMap::new();
        for w in &batch {
            for r in &w.readers {
                *weights.entry(r.clone()).or_default() += 1;
            }
        }
        let shares: Vec<(String, String, u64)> = weights
            .into_iter()
            .map(|((email, hash), w)| (email, hash, w * 1000))
            .collect();
        let row = SpendRow {
            run_id: Some(run_id),
            papers: papers.len(),
            ..self.meter.spend_row(completion.usage, Stage::Tldr)
        };
        let rows: Vec<(PaperId, String, String)> = written
            .into_iter()
            .map(|(id, t)| (id, language.to_string(), t))
            .collect();
        let saved = store
            .record_paid_call(
                row.split(&shares),
                Decided::Tldrs((key.clone(), rows.clone())),
                run_id,
            )
            .await;
        self.meter.release(reserved).await;
        saved?;
        Ok(rows)
    }
}
