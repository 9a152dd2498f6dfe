//! The application: configuration, store, clients and scorer, built once by each door (the CLI
//! commands, the daemon, the inbox) and handed to the pipeline.

use lettre::message::Mailbox;

use crate::config::Config;
use crate::scoring::llm::LlmClient;
use crate::scoring::prices::PriceTable;
use crate::scoring::prompt::Prompts;
use crate::scoring::{LlmScorer, Scorer};
use crate::sources::arxiv::ArxivClient;
use crate::store::Store;

pub mod daemon;

/// Everything a run needs, built once from the configuration.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub arxiv: ArxivClient,
    pub preprints: crate::sources::preprints::PreprintClient,
    pub scorer: Scorer,
    pub from: Mailbox,
    /// Cancelled on SIGTERM/SIGINT: no new work is started, the run records where it stopped.
    pub cancel: tokio_util::sync::CancellationToken,
    pub clock: crate::support::clock::Clock,
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
                Scorer::Llm(Box::new(LlmScorer {
                    client: LlmClient::new(&config.llm, &key)?,
                    budget: crate::scoring::budget::Budget::new(&config.budget),
                    prompts,
                    prices: PriceTable::new(&config.llm.prices),
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
        Ok(App {
            config,
            store,
            arxiv,
            preprints,
            scorer,
            from,
            cancel: tokio_util::sync::CancellationToken::new(),
            clock,
        })
    }
}
