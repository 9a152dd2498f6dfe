//! The composition root: the one place that knows every part. `App::build` turns the
//! configuration into the store, the source clients, the scorer, the transport and the outbox,
//! once per process; the daemon loop (`daemon`) and the CLI hand each service only the parts it
//! needs (`inbox`, `alerts`), and the daily job its `Pipeline`.

use crate::config::Config;
use crate::config::EmbeddingSource;
use crate::llm::embed::{Embedder, EmbeddingClient};
use crate::llm::local::LocalEmbedder;
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
pub mod metrics;
pub mod reload;

/// Every part, built once from the configuration. Reads as its `Pipeline` (`app.store`,
/// `app.config`, …); services get narrower views (`inbox`, `alerts`).
pub struct App {
    parts: Pipeline,
    /// `[admin] webhook`: alerts that do not need the mail server.
    webhook: Option<crate::alerts::Webhook>,
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

/// How a command uses the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAccess {
    /// Created when missing, migrated (after a backup) when older.
    Write,
    /// As it is: never created or migrated (see `Store::open_existing`).
    Read,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        App::build_with(config, StoreAccess::Write).await
    }

    pub async fn build_with(config: Config, access: StoreAccess) -> Result<App, StartError> {
        App::assemble(config, access, tokio_util::sync::CancellationToken::new()).await
    }

    /// The same application with a new configuration (SIGHUP): the store, clients and outbox
    /// built again from `config`, sharing this one's shutdown signal.
    pub async fn reloaded(&self, config: Config) -> Result<App, StartError> {
        App::assemble(config, StoreAccess::Write, self.cancel.clone()).await
    }

    async fn assemble(
        config: Config,
        access: StoreAccess,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<App, StartError> {
        for warning in config
            .cleartext_passwords()
            .into_iter()
            .chain(config.loose_secret_files())
        {
            tracing::warn!("{warning}");
        }
        let path = config.resolve(&config.store.path);
        if access == StoreAccess::Write {
            // Whose folder it is comes first: nothing else can be fixed from the wrong user.
            if let Some(why) = crate::support::fs::root_in_foreign_folder(&path) {
                return Err(StartError::Config(
                    crate::support::fs::OwnerError(why).into(),
                ));
            }
        }
        // Every secret at once, before anything is created: the model's key with the others.
        let mut unreadable = config.unreadable_secrets();
        if let Err(e) = config.model_key() {
            unreadable.insert(0, e);
        }
        if access == StoreAccess::Write && !unreadable.is_empty() {
            return Err(StartError::Config(anyhow::anyhow!(unreadable.join("; "))));
        }
        let from = config
            .from_mailbox()
            .map_err(|e| StartError::Config(anyhow::anyhow!(e)))?;
        let store = match access {
            StoreAccess::Write => Store::open(&path),
            StoreAccess::Read => Store::open_existing(&path),
        }
        .map_err(|e| {
            if crate::store::is_setup_problem(&e) {
                StartError::Config(e)
            } else {
                StartError::Other(e)
            }
        })?;
        let arxiv = ArxivClient::new(&config.arxiv, from.email.as_ref())?;
        let preprints = crate::sources::preprints::PreprintClient::new(from.email.as_ref())?;
        let scorer = scorer(&config, access)?;
        let clock = crate::support::clock::Clock::from_env()
            .map_err(|e| StartError::Config(anyhow::anyhow!(e)))?;
        let transport: Arc<dyn Transport> = Arc::from(crate::mail::transport::from_config(&config));
        let outbox = Outbox::new(
            transport,
            from.email.clone(),
            RetryPolicy {
                attempts: config.schedule.send_attempts.max(1),
                base: Duration::from_millis(config.schedule.send_retry_base_ms),
            },
            cancel.clone(),
        )
        .with_drain_lock(config.lock_path("outbox"));
        let webhook = match &config.admin.webhook {
            Some(url) => Some(crate::alerts::Webhook::new(
                url,
                config.admin.webhook_format,
            )?),
            None => None,
        };
        Ok(App {
            webhook,
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
            webhook: self.webhook.as_ref(),
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
        let polled = match crate::inbox::Inbox::new(self.inbox_ctx()) {
            Ok(inbox) => crate::inbox::poll::poll(&inbox, &self.alerts(), &self.outbox).await,
            Err(e) => Err(e),
        };
        // `status` and the metrics read how the inbox has been doing; the admin hears of a
        // failing inbox once a spell.
        let outcome = polled.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        if let Err(e) = self.alerts().inbox_health(&outcome).await {
            tracing::warn!(error = %format!("{e:#}"), "could not alert about the inbox");
        }
        if let Err(e) = self
            .store
            .record_health(crate::store::health::Service::Inbox, outcome)
            .await
        {
            tracing::warn!(error = %format!("{e:#}"), "could not record the inbox's health");
        }
        polled
    }

    /// Tells the admin about `report` (when it deserves it) and sends what is pending.
    pub async fn alert_after(&self, report: &crate::pipeline::RunReport) -> anyhow::Result<usize> {
        self.alerts().after_run(&report.alert()).await
    }

    /// After a panic inside a run (the caller holds the runs lock): every run still `running`
    /// recorded as failed for `why`, and the admin alerted as for any failed run.
    pub async fn fail_after_panic(&self, why: &str) {
        tracing::error!(error = %why, "the run panicked; it is recorded as failed");
        let failed = match self.store.fail_running_runs(why).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "could not record the run as failed");
                return;
            }
        };
        for (run_id, day) in failed {
            let outcome = crate::alerts::RunOutcome {
                run_id,
                day,
                status: crate::store::runs::RunStatus::Failed,
                error: Some(why),
                problems: Vec::new(),
            };
            if let Err(e) = self.alerts().after_run(&outcome).await {
                tracing::error!(error = %format!("{e:#}"), "could not alert the admin about the failed run");
            }
        }
    }

    /// After a run: its day's sent digests compressed together, then what is older than
    /// `[store] keep_days` pruned. Logged; a failure is logged, never fatal.
    pub async fn tidy_store(&self, report: &crate::pipeline::RunReport) {
        if let Some(day) = report.day {
            match self.store.bundle_day(day).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(%day, digests = n, "the day's sent digests compressed together")
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "could not compress the day's digests")
                }
            }
        }
        self.prune_old().await;
    }

    /// `[store] keep_days`: prunes what is older (logged; a failure is logged, never fatal).
    pub async fn prune_old(&self) {
        let Some(keep) = self.config.store.keep_days else {
            return;
        };
        let today = self.clock.now().date_naive();
        match self.store.prune(today, keep).await {
            Ok(p) if p.total() > 0 => tracing::info!(
                keep_days = keep,
                digests = p.digests,
                triage = p.triage,
                "pruned what is older than keep_days"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not prune the store"),
        }
    }
}

/// The scorer the configuration asks for: the model (its prompts checked, with the embedding
/// stage when configured), or keywords without an `[llm]` section.
fn scorer(config: &Config, access: StoreAccess) -> Result<Scorer, StartError> {
    let key = match (config.model_key(), access) {
        (Ok(key), _) => key,
        // A command that only reads (`why`) needs the model's name, not its key: what is
        // stored under that model is read as it is, and nothing is asked.
        (Err(e), StoreAccess::Read) => {
            tracing::debug!("{e}; reading what is stored for the model without calling it");
            Some(secrecy::SecretString::from(String::new()))
        }
        (Err(e), StoreAccess::Write) => return Err(StartError::Config(anyhow::anyhow!(e))),
    };
    Ok(match key {
        Some(key) => {
            let dir = config.resolve(&config.prompts);
            crate::scoring::prompt::check_dir(&dir).map_err(StartError::Config)?;
            let prompts = Prompts::load(&dir).map_err(StartError::Config)?;
            let mut meter = Meter::new(
                LlmClient::new(&config.llm, &key)?,
                Budget::new(&config.budget),
                PriceTable::new(&config.llm.prices),
            );
            if let Some(e) = embedder(config)? {
                meter = meter.with_embedder(e);
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
            let embedder = embedder(config)?;
            match &embedder {
                Some(e) => tracing::warn!(
                    embeddings = e.model(),
                    "no [llm] section in the configuration: scoring by meaning (the embedding model) and keywords (add [llm] to use a model)"
                ),
                None => tracing::warn!(
                    "no [llm] section in the configuration: scoring with keywords instead (add one to use a model)"
                ),
            }
            Scorer::Keyword { embedder }
        }
    })
}

/// The embedding model the configuration asks for: the endpoint, or the in-process model
/// (loaded on first use). Missing weights are one line and no embeddings, never a failed start.
fn embedder(config: &Config) -> anyhow::Result<Option<Embedder>> {
    Ok(match config.embeddings.source(&config.base_dir) {
        EmbeddingSource::Endpoint => {
            let key = config.embeddings_api_key();
            Some(Embedder::Endpoint(Box::new(EmbeddingClient::new(
                &config.embeddings,
                key.as_ref(),
            )?)))
        }
        EmbeddingSource::Local(dir) => Some(Embedder::Local(Arc::new(LocalEmbedder::new(
            &dir,
            config.embeddings.max_tokens,
        )))),
        EmbeddingSource::Missing { looked, named } => {
            let looked: Vec<String> = looked.iter().map(|d| d.display().to_string()).collect();
            let fix = "scripts/fetch-model installs all-MiniLM-L6-v2 (README, \"The embedding model\"); [embeddings] local = false turns this off";
            if named {
                tracing::warn!(looked = %looked.join(", "), "[embeddings] local_dir holds no embedding model (config.json, model.safetensors, tokenizer.json): ranking without embeddings; {fix}");
            } else {
                tracing::warn!(looked = %looked.join(", "), "no embedding model installed: ranking without embeddings; {fix}");
            }
            None
        }
        EmbeddingSource::Off => None,
    })
}

/// What a run's panic says, as the run record and the admin's alert put it.
pub fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    format!("paperboy failed inside the run ({what}); this is a bug: please report it with the log")
}
