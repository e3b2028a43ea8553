//! `embedContent` and `batchEmbedContents`.

use serde::{Deserialize, Serialize};

use crate::content::Content;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbedRequest {
    /// `models/{id}` (in batch requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_type")]
    pub task_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "output_dimensionality")]
    pub output_dimensionality: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchEmbedRequest {
    pub requests: Vec<EmbedRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentEmbedding {
    pub values: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    pub embedding: ContentEmbedding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedResponse {
    pub embeddings: Vec<ContentEmbedding>,
}

/// Vertex AI's `:predict` answer for text-embedding models.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PredictResponse {
    #[serde(default)]
    pub predictions: Vec<Prediction>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prediction {
    pub embeddings: PredictedEmbedding,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PredictedEmbedding {
    pub values: Vec<f32>,
    #[serde(default)]
    pub statistics: Option<EmbeddingStatistics>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct EmbeddingStatistics {
    #[serde(default)]
    pub token_count: u64,
}
