//! The one metered way to call the model. A call needs a [`Reserved`] — the call's worst case
//! held against `[budget]` — so no caller can reach the endpoint without passing the budget; its
//! tokens become a spend row priced from the price table. Run scoring records its rows with what
//! the call decided (one transaction); one-off callers (replies, library imports, `check`) use
//! [`Meter::complete_recorded`], which reserves, calls, records and releases.

use chrono::{DateTime, Utc};

use super::budget::Budget;
use super::prices::{Price, PriceTable};
use crate::domain::problem::{Kind, Problem};
use crate::domain::{Money, SubscriberEmail};
use crate::llm::embed::{Embedded, Embedder};
use crate::llm::{Completion, LlmClient, LlmError, Usage};
use crate::store::spend::{SpendRow, Stage};
use crate::store::Store;

/// The model client (and the embedding endpoint, when there is one) with the budget and the
/// prices they are metered by.
pub struct Meter {
    client: LlmClient,
    embedder: Option<Embedder>,
    budget: Budget,
    prices: PriceTable,
}

/// A call's worst case, held in the budget until released.
#[must_use = "a reservation is released once the call's spend is recorded"]
pub struct Reserved {
    worst: Money,
}

impl Reserved {
    pub fn worst(&self) -> Money {
        self.worst
    }
}

/// Why a metered call gave no answer.
#[derive(Debug)]
pub enum MeteredError {
    /// The budget (or a caller's own cap) does not allow it: nothing was sent.
    Budget(String),
    /// The endpoint failed or refused.
    Model(Problem),
    /// The store could not be read or written.
    Store(anyhow::Error),
}

impl Meter {
    pub fn new(client: LlmClient, budget: Budget, prices: PriceTable) -> Meter {
        Meter {
            client,
            embedder: None,
            budget,
            prices,
        }
    }

    /// The same meter with an embedding model, under the same budget.
    pub fn with_embedder(self, embedder: Embedder) -> Meter {
        Meter {
            embedder: Some(embedder),
            ..self
        }
    }

    /// The embedding model's name, when there is an embedding endpoint.
    pub fn embedding_model(&self) -> Option<&str> {
        self.embedder.as_ref().map(Embedder::model)
    }

    /// The embedding stage is over: what the model holds is freed (see [`Embedder::release`]).
    pub fn embedding_done(&self) {
        if let Some(e) = &self.embedder {
            e.release();
        }
    }

    /// The most embedding `chars` characters can cost (3 characters a token).
    pub fn embed_worst_cost(&self, chars: usize) -> Money {
        self.embedding_model()
            .and_then(|m| self.prices.get(m))
            .map_or(Money::ZERO, |p| p.cost((chars / 3) as u64, 0, 0))
    }

    /// One embedding request, paid for by `_reserved`.
    pub async fn embed(
        &self,
        _reserved: &Reserved,
        texts: Vec<String>,
    ) -> Result<Embedded, LlmError> {
        match &self.embedder {
            Some(e) => e.embed(texts).await,
            None => Err(LlmError(Problem::new(
                Kind::Local,
                "no embedding endpoint is configured ([embeddings] model)",
            ))),
        }
    }

    /// The ledger row of an embedding request of `tokens` (an unknown price: an unknown cost).
    pub fn embed_spend_row(&self, tokens: u64) -> SpendRow {
        let model = self.embedding_model().unwrap_or_default();
        let price = self.prices.get(model);
        if price.is_none() {
            tracing::warn!(model, "no price known for this embedding model: spend recorded with an unknown cost; add [llm.prices] to paperboy.toml");
        }
        let usage = Usage {
            prompt_tokens: tokens,
            ..Usage::default()
        };
        spend_of(model, usage, price, Stage::Embedding)
    }

    pub fn model(&self) -> &str {
        self.client.model()
    }

    pub fn base_url(&self) -> &str {
        self.client.base_url()
    }

    pub fn price(&self) -> Option<Price> {
        self.prices.get(self.client.model())
    }

    /// The most a call can cost: a prompt of `prompt_chars` counted generously (3 characters a
    /// token) and the longest answer (`[llm] max_completion_tokens` when set).
    pub fn worst_cost(&self, prompt_chars: usize, worst_completion: u64) -> Money {
        let completion = self
            .client
            .max_completion_tokens()
            .map(u64::from)
            .unwrap_or(worst_completion);
        self.price()
            .map(|p| p.cost((prompt_chars / 3) as u64, 0, completion))
            .unwrap_or(Money::ZERO)
    }

    /// Holds `worst` in the budget, or says which limit it would cross.
    pub async fn reserve(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        worst: Money,
    ) -> anyhow::Result<Result<Reserved, String>> {
        Ok(self
            .budget
            .reserve(store, now, worst)
            .await?
            .map(|()| Reserved { worst }))
    }

    /// Gives a reservation back once its call's spend is recorded (or the call was not made).
    pub async fn release(&self, reserved: Reserved) {
        self.budget.release(reserved.worst).await;
    }

    /// One chat completion, paid for by `_reserved`.
    pub async fn complete(
        &self,
        _reserved: &Reserved,
        system: &str,
        user: &str,
    ) -> Result<Completion, LlmError> {
        self.client.complete(system, user).await
    }

    /// A completion read as one command per line (replies).
    pub async fn commands(
        &self,
        _reserved: &Reserved,
        system: &str,
        user: &str,
    ) -> Result<(Vec<String>, Option<Usage>), LlmError> {
        self.client.commands(system, user).await
    }

    /// The smallest call that shows the endpoint answers (`check`).
    pub async fn ping(&self, _reserved: &Reserved) -> Result<Completion, LlmError> {
        self.client.ping().await
    }

    /// The ledger row of a call: its tokens priced (an unknown price, or no usage reported,
    /// gives an unknown cost, never $0).
    pub fn spend_row(&self, usage: Option<Usage>, stage: Stage) -> SpendRow {
        let model = self.client.model();
        let price = match (usage.is_some(), self.price()) {
            (true, None) => {
                tracing::warn!(model, "no price known for this model: spend recorded with an unknown cost; add [llm.prices] to paperboy.toml");
                None
            }
            (has_usage, price) => price.filter(|_| has_usage),
        };
        if usage.is_none() {
            tracing::warn!("the model endpoint reported no token usage; the call is recorded with 0 tokens and an unknown cost");
        }
        spend_of(model, usage.unwrap_or_default(), price, stage)
    }

    /// A call made alone: reserved, sent, its spend recorded (for `subscriber`, when it is one
    /// reader's), released.
    pub async fn complete_recorded(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        call: OneCall<'_>,
    ) -> Result<Completion, MeteredError> {
        let worst = self.worst_cost(call.system.len() + call.user.len(), call.worst_completion);
        let reserved = match self.reserve(store, now, worst).await {
            Ok(Ok(r)) => r,
            Ok(Err(why)) => return Err(MeteredError::Budget(why)),
            Err(e) => return Err(MeteredError::Store(e)),
        };
        let answer = match call.kind {
            CallKind::Complete => self.complete(&reserved, call.system, call.user).await,
            CallKind::Ping => self.ping(&reserved).await,
        };
        let result = match answer {
            Ok(c) => {
                let row = SpendRow {
                    subscriber: call.subscriber.map(|s| s.to_string()),
                    ..self.spend_row(c.usage, call.stage)
                };
                match store.record_spend(row).await {
                    Ok(()) => Ok(c),
                    Err(e) => Err(MeteredError::Store(e)),
                }
            }
            Err(LlmError(why)) => Err(MeteredError::Model(why)),
        };
        self.release(reserved).await;
        result
    }
}

/// What [`Meter::complete_recorded`] sends.
pub struct OneCall<'a> {
    pub stage: Stage,
    pub kind: CallKind,
    pub subscriber: Option<&'a SubscriberEmail>,
    pub system: &'a str,
    pub user: &'a str,
    /// The longest answer expected, in tokens, for the worst case.
    pub worst_completion: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Complete,
    Ping,
}

impl std::fmt::Display for MeteredError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeteredError::Budget(why) => f.write_str(why),
            MeteredError::Model(p) => write!(f, "{p}"),
            MeteredError::Store(e) => write!(f, "{e:#}"),
        }
    }
}

impl MeteredError {
    /// As a run's problem.
    pub fn problem(&self) -> Problem {
        match self {
            MeteredError::Budget(why) => Problem::new(Kind::Budget, why.clone()),
            MeteredError::Model(p) => p.clone(),
            MeteredError::Store(e) => Problem::new(Kind::Local, format!("{e:#}")),
        }
    }
}

/// The ledger row of one model call: its tokens, priced by `price` (none: an unknown cost).
pub fn spend_of(model: &str, usage: Usage, price: Option<Price>, stage: Stage) -> SpendRow {
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
        call_id: Some(uuid::Uuid::new_v4().to_string()),
        stage: Some(stage),
    }
}
