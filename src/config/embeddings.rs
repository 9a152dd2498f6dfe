//! `[embeddings]`: the embedding endpoint that ranks each reader's papers before any verdict is
//! asked for, and the model window every prompt is bounded by (`[llm] context_tokens`).

use serde::Deserialize;

use super::LlmConfig;

/// Any OpenAI-compatible `/v1/embeddings` (OpenAI, Ollama, vLLM, llama.cpp's server, TEI). Off
/// while `model` is empty: the title triage picks the papers worth a verdict instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    pub base_url: String,
    /// e.g. `text-embedding-3-small`; empty: no embedding stage.
    pub model: String,
    /// The environment variable holding the key; unset or empty sends none (local servers).
    pub api_key_env: String,
    /// A file holding the key instead (see `llm.api_key_file`).
    pub api_key_file: Option<std::path::PathBuf>,
    /// Ask the endpoint for vectors this long (OpenAI's v3 models shorten on request).
    pub dimensions: Option<u32>,
    /// Texts per request.
    pub batch_size: usize,
    /// Per reader, the most papers the prefilter sends to a verdict (keyword hits come on top;
    /// followed authors' papers are pinned without one).
    pub top_k: usize,
    /// Within `top_k`, a paper beyond the reader's three nearest needs its nearness this many
    /// robust standard deviations above the reader's median for the day.
    pub min_z: f32,
    /// Per reader, papers less similar than this (cosine) get no verdict even within `top_k`.
    pub min_similarity: f32,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: String::new(),
            api_key_env: "OPENAI_API_KEY".into(),
            api_key_file: None,
            dimensions: None,
            batch_size: 256,
            top_k: 100,
            min_z: 30.0,
            min_similarity: 0.0,
            timeout_secs: 60,
            max_attempts: 3,
            retry_base_ms: 2_000,
        }
    }
}

impl EmbeddingsConfig {
    pub fn enabled(&self) -> bool {
        !self.model.trim().is_empty()
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
