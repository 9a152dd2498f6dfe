//! `[embeddings]`: the embedding model that orders each reader's papers (in-process by default,
//! or an endpoint), and the model window every prompt is bounded by (`[llm] context_tokens`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::LlmConfig;

/// The embedding model: in-process from a folder of weights (the default, `local_dir`), or any
/// OpenAI-compatible `/v1/embeddings` (OpenAI, Ollama, vLLM, llama.cpp's server, TEI) once
/// `model` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// Use the in-process model when no endpoint `model` is set (`false`: no embeddings).
    pub local: bool,
    /// The in-process model's folder (`config.json`, `model.safetensors`, `tokenizer.json`).
    /// Unset: `models/all-MiniLM-L6-v2` beside the configuration, then
    /// [`PACKAGED_MODEL_DIR`].
    pub local_dir: Option<PathBuf>,
    /// Word pieces of a paper's title and abstract the in-process model reads (it could read
    /// 256). 128, the length all-MiniLM-L6-v2 was trained at, places gpt-4o's picks as well as
    /// 256 on the recall benchmark (README) in less than half the time.
    pub max_tokens: usize,
    pub base_url: String,
    /// An endpoint's model, e.g. `text-embedding-3-small`; empty: the in-process model.
    pub model: String,
    /// The environment variable holding the key; unset or empty sends none (local servers).
    pub api_key_env: String,
    /// A file holding the key instead (see `llm.api_key_file`).
    pub api_key_file: Option<std::path::PathBuf>,
    /// Ask the endpoint for vectors this long (OpenAI's v3 models shorten on request).
    pub dimensions: Option<u32>,
    /// Texts per request.
    pub batch_size: usize,
    /// Per reader, the most papers the embedding stage sends straight to a verdict, past the
    /// title triage (keyword hits come on top; followed authors' papers are pinned without one).
    /// The rest are read by the triage: nothing is left out.
    pub top_k: usize,
    /// Within `top_k`, a paper beyond the reader's three nearest goes straight to a verdict
    /// when its nearness stands this many robust standard deviations above the reader's median
    /// for the day. On the recall benchmark's real days (all-MiniLM-L6-v2), 1.5 holds about a
    /// third of gpt-4o's picks at three picks to one other paper.
    pub min_z: f32,
    /// Per reader, papers less similar than this (cosine) do not go straight to a verdict.
    pub min_similarity: f32,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            local: true,
            local_dir: None,
            max_tokens: 128,
            base_url: "https://api.openai.com/v1".into(),
            model: String::new(),
            api_key_env: "OPENAI_API_KEY".into(),
            api_key_file: None,
            dimensions: None,
            batch_size: 256,
            top_k: 50,
            min_z: 1.5,
            min_similarity: 0.0,
            timeout_secs: 300,
            max_attempts: 3,
            retry_base_ms: 2_000,
        }
    }
}

/// The files an in-process model's folder holds.
pub const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// Whether `dir` holds every file of [`MODEL_FILES`] (nothing is read).
pub fn holds_model(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

/// Where the Debian package and the container image put the default model.
pub const PACKAGED_MODEL_DIR: &str = "/usr/share/paperboy/models/all-MiniLM-L6-v2";
/// Where `scripts/fetch-model` puts it, beside the configuration.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// Where the vectors come from, as configured.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingSource {
    /// An OpenAI-compatible endpoint (`[embeddings] model`).
    Endpoint,
    /// The in-process model in this folder (it holds the weights).
    Local(PathBuf),
    /// The in-process model, but no folder looked in holds its weights. `named`: the folder
    /// was set in `[embeddings] local_dir` (rather than the default looked for).
    Missing { looked: Vec<PathBuf>, named: bool },
    /// `[embeddings] local = false` and no endpoint.
    Off,
}

impl EmbeddingsConfig {
    /// An endpoint is configured (`model` set).
    pub fn enabled(&self) -> bool {
        !self.model.trim().is_empty()
    }

    /// Where the vectors come from; relative folders are read from `base`, the configuration's
    /// folder.
    pub fn source(&self, base: &Path) -> EmbeddingSource {
        if self.enabled() {
            return EmbeddingSource::Endpoint;
        }
        if !self.local {
            return EmbeddingSource::Off;
        }
        let looked: Vec<PathBuf> = match &self.local_dir {
            Some(d) => vec![base.join(d)],
            None => vec![
                base.join(DEFAULT_MODEL_DIR),
                PathBuf::from(PACKAGED_MODEL_DIR),
            ],
        };
        match looked.iter().find(|d| holds_model(d)) {
            Some(d) => EmbeddingSource::Local(d.clone()),
            None => EmbeddingSource::Missing {
                looked,
                named: self.local_dir.is_some(),
            },
        }
    }
}

/// Context windows of the models whose window is published, in tokens (longest prefix wins).
const WINDOWS: &[(&str, u64)] = &[
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
];

/// The window assumed for a model not in the table: small enough for most local models.
pub const UNKNOWN_WINDOW: u64 = 32_768;

impl LlmConfig {
    /// `[llm] context_tokens`, or the model's published window, or [`UNKNOWN_WINDOW`].
    pub fn context_tokens(&self) -> u64 {
        self.context_tokens.unwrap_or_else(|| {
            WINDOWS
                .iter()
                .filter(|(prefix, _)| self.model.starts_with(prefix))
                .max_by_key(|(prefix, _)| prefix.len())
                .map_or(UNKNOWN_WINDOW, |(_, w)| *w)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_comes_from_the_model_unless_set() {
        let mut llm = LlmConfig {
            model: "gpt-4o-mini".into(),
            ..LlmConfig::default()
        };
        assert_eq!(llm.context_tokens(), 128_000);
        llm.model = "gpt-4.1-mini".into();
        assert_eq!(llm.context_tokens(), 1_047_576);
        llm.model = "llama3.1:8b".into();
        assert_eq!(llm.context_tokens(), UNKNOWN_WINDOW);
        llm.context_tokens = Some(8_192);
        assert_eq!(llm.context_tokens(), 8_192);
    }
}
