//! Embeddings: an in-process model ([`super::local`]) or any OpenAI-compatible
//! `/v1/embeddings`, through async-openai. Many texts per request; the vectors come back in
//! input order, scaled to unit length (so a dot product is the cosine similarity), with the
//! tokens read.

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EmbeddingInput};
use secrecy::{ExposeSecret, SecretString};

use super::{Endpoint, LlmError};
use crate::config::EmbeddingsConfig;
use crate::domain::problem::Kind;

/// Where vectors come from: the model in-process, or an endpoint.
pub enum Embedder {
    Local(Arc<super::local::LocalEmbedder>),
    Endpoint(Box<EmbeddingClient>),
}

impl Embedder {
    /// The model's name, which its vectors are stored under.
    pub fn model(&self) -> &str {
        match self {
            Embedder::Local(m) => m.name(),
            Embedder::Endpoint(c) => c.stored_name(),
        }
    }

    /// Frees what the model holds between stages (the in-process model's weights); an
    /// endpoint holds nothing.
    pub fn release(&self) {
        if let Embedder::Local(m) = self {
            m.release();
        }
    }

    /// The vectors of `texts`, in order. The local model runs on a blocking thread.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Embedded, LlmError> {
        match self {
            Embedder::Endpoint(c) => c.embed(texts).await,
            Embedder::Local(m) => {
                let m = Arc::clone(m);
                let out = tokio::task::spawn_blocking(move || {
                    let model = m.model().map_err(|e| e.to_string())?;
                    model.embed(&texts)
                })
                .await
                .map_err(|e| {
                    LlmError::new(Kind::Local, format!("the embedding model stopped: {e}"))
                })?
                .map_err(|e| LlmError::new(Kind::Local, e))?;
                Ok(Embedded {
                    vectors: out.vectors,
                    prompt_tokens: out.tokens,
                })
            }
        }
    }
}

pub struct EmbeddingClient {
    client: async_openai::Client<OpenAIConfig>,
    model: String,
    /// What its vectors are stored under: the model, and `@dimensions` when asked for (vectors
    /// of another length are other vectors).
    stored_as: String,
    /// The length of the first vectors it sent: every later one must match.
    dims: std::sync::Mutex<Option<usize>>,
    base_url: String,
    dimensions: Option<u32>,
    max_attempts: u32,
    retry_base: Duration,
}

/// The vectors of one request, in input order, and the tokens it was billed.
#[derive(Debug)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u64,
}

impl EmbeddingClient {
    pub fn new(
        config: &EmbeddingsConfig,
        api_key: Option<&SecretString>,
    ) -> anyhow::Result<EmbeddingClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut openai_config =
            OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        openai_config = openai_config.with_api_key(api_key.map_or("", |k| k.expose_secret()));
        Ok(EmbeddingClient {
            client: async_openai::Client::with_config(openai_config).with_http_client(http),
            model: config.model.clone(),
            stored_as: match config.dimensions {
                Some(d) => format!("{}@{d}", config.model),
                None => config.model.clone(),
            },
            dims: std::sync::Mutex::new(None),
            base_url: config.base_url.clone(),
            dimensions: config.dimensions,
            max_attempts: config.max_attempts.max(1),
            retry_base: Duration::from_millis(config.retry_base_ms),
        })
    }

    /// What its vectors are stored under (the model, with `@dimensions` when set).
    pub fn stored_name(&self) -> &str {
        &self.stored_as
    }

    /// The vectors of `texts` (one request), retried with backoff where asking again may help.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Embedded, LlmError> {
        let n = texts.len();
        let mut args = CreateEmbeddingRequestArgs::default();
        args.model(&self.model)
            .input(EmbeddingInput::StringArray(texts));
        if let Some(d) = self.dimensions {
            args.dimensions(d);
        }
        let request = args.build().map_err(|e| {
            LlmError::new(Kind::ModelFailed, format!("cannot build the request: {e}"))
        })?;
        let endpoint = Endpoint {
            base_url: &self.base_url,
            model: &self.model,
            section: "[embeddings]",
            max_attempts: self.max_attempts,
            retry_base: self.retry_base,
        };
        let response = endpoint
            .with_retries(|| {
                let request = request.clone();
                async move { self.client.embeddings().create(request).await }
            })
            .await?;
        self.read(response, n)
    }

    /// The answer's vectors in input order, checked at the door: one per text, each finite and
    /// not zero, all of one length — the length of every vector this endpoint sent before.
    fn read(
        &self,
        response: async_openai::types::embeddings::CreateEmbeddingResponse,
        n: usize,
    ) -> Result<Embedded, LlmError> {
        let bad = |what: String| {
            LlmError::new(
                Kind::ModelFailed,
                format!("the embedding endpoint {} sent {what}", self.base_url),
            )
        };
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; n];
        for e in response.data {
            let slot = slots
                .get_mut(e.index as usize)
                .ok_or_else(|| bad(format!("a vector for input {} of {n}", e.index)))?;
            if !crate::domain::vector::is_direction(&e.embedding) {
                return Err(bad(format!(
                    "a vector for input {} that is not a direction (a value not finite, or all zero)",
                    e.index
                )));
            }
            *slot = Some(crate::domain::vector::unit(e.embedding));
        }
        let vectors: Vec<Vec<f32>> = slots
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| bad(format!("no vector for input {i} of {n}"))))
            .collect::<Result<_, _>>()?;
        let dims = vectors.first().map_or(0, Vec::len);
        if dims == 0 || vectors.iter().any(|v| v.len() != dims) {
            return Err(bad("vectors of different or zero lengths".into()));
        }
        let mut known = self.dims.lock().unwrap_or_else(|e| e.into_inner());
        match *known {
            Some(before) if before != dims => {
                return Err(bad(format!(
                    "vectors of {dims} dimensions where it sent {before} before (did the model behind {} change? set [embeddings] dimensions, or a new model name)",
                    self.model
                )))
            }
            _ => *known = Some(dims),
        }
        Ok(Embedded {
            vectors,
            prompt_tokens: response.usage.prompt_tokens as u64,
        })
    }
}
