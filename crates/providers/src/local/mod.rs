//! `type = "local"`: a model running inside this process on the embedded engine. A GGUF file
//! serves chat (llama.cpp, feature `llama`); a sentence-transformers folder serves
//! embeddings (candle BERT). Engine errors become provider errors with the status an HTTP
//! upstream would have used, so the rest of the pipeline treats both alike.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use switchyard_config::{LocalConfig, ProviderConfig};
use switchyard_engine::chat::LocalChat;
use switchyard_engine::embed::BertEmbedder;
use switchyard_engine::EngineError;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};
use tokio::sync::Semaphore;

use crate::{EventStream, ProviderError, ProviderErrorKind};

/// A loaded local model.
#[derive(Clone)]
pub struct Local {
    id: String,
    model: Model,
}

#[derive(Clone)]
enum Model {
    Chat(Arc<LocalChat>),
    /// Embedding runs one batch at a time: the model already uses every core.
    Embedding(Arc<BertEmbedder>, Arc<Semaphore>),
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.model {
            Model::Chat(_) => "chat",
            Model::Embedding(..) => "embedding",
        };
        f.debug_struct("Local")
            .field("id", &self.id)
            .field("kind", &kind)
            .finish()
    }
}

impl Local {
    /// Loads the model (blocking: call at startup or from a blocking task).
    pub fn load(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let local = config.local.as_ref().ok_or_else(|| {
            ProviderError::unsupported(format!("provider `{}` is not a local provider", config.id))
        })?;
        let model = if local.is_embedding() {
            let embedder =
                BertEmbedder::load(&local.path).map_err(|e| load_error(&config.id, e))?;
            Model::Embedding(Arc::new(embedder), Arc::new(Semaphore::new(1)))
        } else {
            Model::Chat(Arc::new(load_chat(&config.id, local)?))
        };
        Ok(Self {
            id: config.id.clone(),
            model,
        })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let chat = self.chat_model()?;
        let generation = chat.start(request).await.map_err(from_engine)?;
        let mut response = generation.collect().await.map_err(from_engine)?;
        upstream_model.clone_into(&mut response.model);
        Ok(response)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let chat = self.chat_model()?;
        let generation = chat.start(request).await.map_err(from_engine)?;
        let model = upstream_model.to_owned();
        let stream =
            futures::stream::unfold(
                generation,
                |mut g| async move { g.next().await.map(|e| (e, g)) },
            )
            .map(move |event| match event {
                Ok(StreamEvent::MessageStart { id, created, .. }) => {
                    Ok(StreamEvent::MessageStart {
                        id,
                        model: model.clone(),
                        created,
                    })
                }
                Ok(other) => Ok(other),
                Err(e) => Err(from_engine(e)),
            });
        Ok(Box::pin(stream))
    }

    /// The exact prompt tokens of `request`, counted with the model's own tokenizer on the
    /// blocking pool (a prompt of many megabytes takes a while to render and tokenize, and an
    /// async worker must not stall on it).
    pub async fn count_tokens(&self, request: &ChatRequest) -> Result<u64, ProviderError> {
        let (chat, request) = (self.chat_model()?.clone(), request.clone());
        tokio::task::spawn_blocking(move || chat.count_tokens(&request).map_err(from_engine))
            .await
            .map_err(|_| ProviderError::protocol("token counting did not finish"))?
    }

    /// Whether the loaded model does `operation`: a chat model chats and counts, an
    /// embedding model embeds.
    pub fn can(
        &self,
        operation: crate::Operation,
        upstream_model: &str,
    ) -> Result<(), ProviderError> {
        match (&self.model, operation) {
            (Model::Chat(_), crate::Operation::Embed) => Err(not_embedding(upstream_model)),
            (Model::Embedding(..), crate::Operation::Chat | crate::Operation::CountTokens) => {
                self.chat_model().map(|_| ())
            }
            _ => Ok(()),
        }
    }

    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let Model::Embedding(embedder, gate) = &self.model else {
            return Err(not_embedding(upstream_model));
        };
        let texts = match &request.input {
            EmbeddingInput::Texts(t) => t.clone(),
            EmbeddingInput::Tokens(_) => {
                return Err(ProviderError::unsupported(
                    "token-id input is not supported by the local embedding model; send text",
                ))
            }
        };
        if let Some(d) = request.dimensions {
            if d as usize != embedder.dimensions() {
                return Err(ProviderError::unsupported(format!(
                    "`{upstream_model}` produces {}-dimensional embeddings and cannot shorten them; omit dimensions",
                    embedder.dimensions()
                )));
            }
        }
        let _permit = gate.clone().acquire_owned().await.map_err(|_| {
            ProviderError::new(
                ProviderErrorKind::Status(503),
                "the embedding engine has stopped",
            )
        })?;
        let embedder = embedder.clone();
        let out = tokio::task::spawn_blocking(move || embedder.embed(&texts))
            .await
            .map_err(|e| {
                ProviderError::new(
                    ProviderErrorKind::Status(500),
                    format!("the embedding task failed: {e}"),
                )
            })?
            .map_err(from_engine)?;
        Ok(EmbeddingResponse {
            model: upstream_model.to_owned(),
            embeddings: out.vectors,
            input_tokens: out.tokens,
        })
    }

    fn chat_model(&self) -> Result<&Arc<LocalChat>, ProviderError> {
        match &self.model {
            Model::Chat(chat) => Ok(chat),
            Model::Embedding(..) => Err(ProviderError::unsupported(format!(
                "provider `{}` serves an embedding model; it cannot chat",
                self.id
            ))),
        }
    }
}

#[cfg(feature = "llama")]
fn load_chat(id: &str, local: &LocalConfig) -> Result<LocalChat, ProviderError> {
    use switchyard_engine::chat::llama::{LlamaChat, LlamaOptions};
    let mut options = LlamaOptions::new(&local.path);
    if let Some(t) = local.threads {
        options.threads = t;
    }
    options.parallel = local.parallel;
    options.context_per_sequence = local.context_size;
    options.queue = local.queue as usize;
    let backend = LlamaChat::load(options).map_err(|e| load_error(id, e))?;
    let name = local
        .path
        .file_stem()
        .map_or_else(|| id.to_owned(), |s| s.to_string_lossy().into_owned());
    LocalChat::new(Arc::new(backend), name).map_err(|e| load_error(id, e))
}

#[cfg(not(feature = "llama"))]
fn load_chat(id: &str, local: &LocalConfig) -> Result<LocalChat, ProviderError> {
    Err(ProviderError::unsupported(format!(
        "provider `{id}`: {} is a chat model, and this build has no chat engine (rebuild with the `llama` feature)",
        local.path.display()
    )))
}

fn load_error(id: &str, e: EngineError) -> ProviderError {
    ProviderError::unsupported(format!("provider `{id}`: {e}"))
}

/// Engine errors in HTTP terms: the caller's fault is a 400, a full queue a 503 with a short
/// retry hint (and safe to send elsewhere), anything else a 500.
fn from_engine(e: EngineError) -> ProviderError {
    match e {
        EngineError::InvalidRequest(m) => ProviderError::unsupported(m),
        EngineError::ContextLength(m) => ProviderError {
            kind: ProviderErrorKind::Status(400),
            message: m,
            code: Some("context_length_exceeded".into()),
            retry_after: None,
        },
        EngineError::Overloaded(m) => ProviderError {
            kind: ProviderErrorKind::Status(503),
            message: m,
            code: Some("engine_overloaded".into()),
            retry_after: Some(Duration::from_secs(1)),
        },
        EngineError::Template(m) | EngineError::Load(m) | EngineError::Internal(m) => {
            ProviderError::new(ProviderErrorKind::Status(500), m)
        }
    }
}

fn not_embedding(upstream_model: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "`{upstream_model}` is a chat model; it does not produce embeddings"
    ))
}
