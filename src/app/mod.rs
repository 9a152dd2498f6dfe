//! The composition root: the one place that knows every part. `App::build` turns the
//! configuration into the store, the source clients, the scorer, the transport and the outbox,
//! once per process; the daemon loop (`daemon`) and the CLI hand each service only the parts it
//! needs (`inbox`, `alerts`), and the daily job its `Pipeline`.

use crate::config::Config;
use crate::llm::embed::EmbeddingClient;
use crate::llm::LlmClient;
use crate::scoring::budget::Budget;
use crate::scoring::meter::Meter;
use crate::scoring::prices::PriceTable;
use crate::scoring::prompt::Prompts;
use crate::scoring::{LlmScorer, Scorer};
use crate::sources::arxiv::ArxivClient;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

use crate::alerts::Alerts;
use crate::mail::Transport;
use crate::outbox::{Outbox, RetryPolicy};
use crate::pipeline::Pipeline;

pub mod daemon;

/// Every part, built once from the configuration. Reads as its `Pipeline` (`app.store`,
/// `app.config`, …); services get narrower views (`inbox`, `alerts`).
pub struct App {
    parts: Pipeline,
}

impl std::ops::Deref for App {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        &self.parts
    }
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is wrong (exit 2).
    #[error("{0:#}")]
    Config(anyhow::Error),
    /// Anything else: the store, the network stack (exit 1).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        for warning in config.cleartext_passwords() {
            tracing::warn!("{warning}");
        }
        let from = config
            .from_mailbox()
            .map_err(|e| StartError::Config(anyhow::anyhow!(e)))?;
        let store = Store::open(&config.resolve(&config.store.path))?;
        let arxiv = ArxivClient::new(&config.arxiv, from.email.as_ref())?;
        let preprints = crate::sources::preprints::PreprintClient::new(from.email.as_ref())?;
        let scorer = match config.llm_api_key() {
            Some(key) => {
                let prompts =
                    Prompts::load(&config.resolve(&config.prompts)).map_err(StartError::Config)?;
                let mut meter = Meter::new(
                    LlmClient::new(&config.llm, &key)?,
                    Budget::new(&config.budget),
                    PriceTable::new(&config.llm.prices),
                );
                if config.embeddings.enabled() {
                    let key = config.embeddings_api_key();
                    meter = meter
                        .with_embedder(EmbeddingClient::new(&config.embeddings, key.as_ref())?);
                }
                Scorer::Llm(Box::new(LlmScorer {
                    meter,
                    context_tokens: config.llm.context_tokens(),
                    top_k: config.embeddings.top_k,
                    min_z: config.embeddings.min_z,
                    min_similarity: config.embeddings.min_similarity,
                    embed_batch_size: config.embeddings.batch_size,
                    prompts,
                    batch_size: config.llm.batch_size,
                    concurrency: config.llm.concurrency,
                    reask_attempts: config.llm.reask_attempts,
                    triage: config.llm.triage,
                    triage_batch_size: config.llm.triage_batch_size,
                    tldr: config.llm.tldr,
                }))
            }
            None => {
                tracing::warn!(
                    "no model API key in ${}: scoring with keywords instead (set it to use {})",
                    config.llm.api_key_env,
                    config.llm.model
                );
                Scorer::Keyword
            }
        };
        let clock = crate::support::clock::Clock::from_env()
            .map_err(|e| StartError::Config(anyhow::anyhow!(e)))?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let transport: Arc<dyn Transport> = Arc::from(crate::mail::transport::from_config(&config));
        let outbox = Outbox::new(
            transport,
            from.email.clone(),
            RetryPolicy {
                attempts: config.schedule.send_attempts.max(1),
                base: Duration::from_millis(config.schedule.send_retry_base_ms),
            },
            cancel.clone(),
        );
        Ok(App {
            parts: Pipeline {
                config,
                store,
                arxiv,
                preprints,
                scorer,
                from,
                outbox,
                cancel,
                clock,
            },
        })
    }

    /// The daily job's parts.
    pub fn pipeline(&self) -> &Pipeline {
        &self.parts
    }

    /// What handling replies needs.
    pub fn inbox_ctx(&self) -> crate::inbox::Ctx<'_> {
        crate::inbox::Ctx {
            config: &self.config,
            store: &self.store,
            scorer: &self.scorer,
            clock: &self.clock,
            from: &self.from,
        }
    }

    /// Where alerts go (`[admin] email`), through the one outbox.
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts {
            store: &self.store,
            outbox: &self.outbox,
            from: &self.from,
            admin: self.config.admin_address(),
        }
    }

    /// The runs lock: one digest, preview or daemon run at a time per store (a second waits
    /// for the first, up to a quarter of an hour, and is told whom it waits for).
    pub async fn hold_runs(&self, what: &str) -> anyhow::Result<crate::support::lock::Held> {
        crate::support::lock::hold(
            &self.config.lock_path("runs"),
            what,
            Duration::from_secs(15 * 60),
        )
        .await
    }

    /// Polls the inbox once: replies handled, answers and alerts sent. One poll at a time per
    /// store, so a message taken and never finished was left by a poll that is gone.
    pub async fn poll_inbox(&self) -> anyhow::Result<crate::inbox::poll::PollReport> {
        let _polling = crate::support::lock::hold(
            &self.config.lock_path("inbox"),
            "polling the inbox",
            Duration::from_secs(120),
        )
        .await?;
        let inbox = crate::inbox::Inbox::new(self.inbox_ctx())?;
        crate::inbox::poll::poll(&inbox, &self.alerts(), &self.outbox).await
    }

    /// Tells the admin about `report` (when it deserves it) and sends what is pending.
    pub async fn alert_after(&self, report: &crate::pipeline::RunReport) -> anyhow::Result<usize> {
        self.alerts().after_run(&report.alert()).await
    }
}
