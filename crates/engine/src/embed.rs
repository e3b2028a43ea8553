//! Sentence embeddings on candle's BERT, following the model's sentence-transformers
//! configuration: `modules.json` (is there a Normalize module?), `1_Pooling/config.json`
//! (mean, CLS or max pooling) and `sentence_bert_config.json` (maximum sequence length).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::EngineError;

/// Inputs embedded in one forward pass.
pub const BATCH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pooling {
    Mean,
    Cls,
    Max,
}

/// A loaded BERT sentence-embedding model.
pub struct BertEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    dimensions: usize,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("pooling", &self.pooling)
            .field("normalize", &self.normalize)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

/// Embeddings for a batch of inputs, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the model read (special tokens included, padding excluded).
    pub tokens: u64,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

impl BertEmbedder {
    /// Loads a sentence-transformers BERT model directory.
    pub fn load(dir: &Path) -> Result<Self, EngineError> {
        let file = |name: &str| -> PathBuf { dir.join(name) };
        let read = |name: &str| -> Result<Vec<u8>, EngineError> {
            std::fs::read(file(name))
                .map_err(|e| EngineError::Load(format!("{}: {e}", file(name).display())))
        };
        let json = |name: &str| -> Result<serde_json::Value, EngineError> {
            serde_json::from_slice(&read(name)?)
                .map_err(|e| EngineError::Load(format!("{}: {e}", file(name).display())))
        };
        let config: Config = serde_json::from_value(json("config.json")?)
            .map_err(|e| EngineError::Load(format!("config.json is not a BERT config: {e}")))?;
        let dimensions = config.hidden_size;

        let modules: Vec<Module> = match read("modules.json") {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| EngineError::Load(format!("modules.json: {e}")))?,
            Err(_) => Vec::new(),
        };
        let normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with(".Pooling"))
            .map_or_else(|| "1_Pooling".to_owned(), |m| m.path.clone());
        let pooling = match read(&format!("{pooling_dir}/config.json")) {
            Ok(bytes) => {
                let p: PoolingConfig = serde_json::from_slice(&bytes)
                    .map_err(|e| EngineError::Load(format!("pooling config: {e}")))?;
                if p.pooling_mode_mean_tokens {
                    Pooling::Mean
                } else if p.pooling_mode_cls_token {
                    Pooling::Cls
                } else if p.pooling_mode_max_tokens {
                    Pooling::Max
                } else {
                    return Err(EngineError::Load(
                        "the pooling config names no supported pooling mode".into(),
                    ));
                }
            }
            Err(_) => Pooling::Mean,
        };
        let max_len = match read("sentence_bert_config.json") {
            Ok(bytes) => serde_json::from_slice::<SentenceBertConfig>(&bytes)
                .ok()
                .and_then(|c| c.max_seq_length),
            Err(_) => None,
        }
        .unwrap_or(config.max_position_embeddings)
        .min(config.max_position_embeddings);

        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json"))
            .map_err(|e| EngineError::Load(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..TruncationParams::default()
            }))
            .map_err(|e| EngineError::Load(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));

        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| EngineError::Load(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| EngineError::Load(format!("BERT weights: {e}")))?;
        Ok(Self {
            model,
            tokenizer,
            pooling,
            normalize,
            dimensions,
        })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Embeds every input. Inputs are sorted by length and run in batches of [`BATCH`], so
    /// padding stays small; results come back in input order.
    pub fn embed(&self, inputs: &[String]) -> Result<Embedded, EngineError> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].len()));
        let mut vectors = vec![Vec::new(); inputs.len()];
        let mut tokens = 0;
        for chunk in order.chunks(BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|&i| inputs[i].as_str()).collect();
            let (batch_vectors, batch_tokens) = self.embed_batch(&texts).map_err(internal)?;
            tokens += batch_tokens;
            for (&i, v) in chunk.iter().zip(batch_vectors) {
                vectors[i] = v;
            }
        }
        Ok(Embedded { vectors, tokens })
    }

    /// One padded batch: its vectors and the tokens read.
    fn embed_batch(&self, texts: &[&str]) -> Result<(Vec<Vec<f32>>, u64), BoxError> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true)?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut type_ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            type_ids.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let tokens: u64 = mask.iter().map(|&m| u64::from(m)).sum();
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, cols), device)?;
        let type_ids = Tensor::from_vec(type_ids, (rows, cols), device)?;
        let mask = Tensor::from_vec(mask, (rows, cols), device)?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (rows, cols, dim)
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, cols, 1)
        let pooled = match self.pooling {
            Pooling::Mean => {
                let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?;
                let counts = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)?
            }
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Max => {
                // Padding positions must never win the max.
                let penalty = ((mask_f.ones_like()? - &mask_f)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        let pooled = if self.normalize {
            let norm = pooled
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .clamp(1e-12, f64::MAX)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        };
        Ok((pooled.to_vec2::<f32>()?, tokens))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn internal(e: BoxError) -> EngineError {
    EngineError::Internal(format!("embedding failed: {e}"))
}
