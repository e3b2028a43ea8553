//! The llama.cpp backend (`llama-cpp-2`, pinned). One engine thread owns the model and one
//! context with a KV cache sequence per slot; the decoding of every active request is
//! batched into a single `llama_decode` per step (see [`scheduler`]).

mod sampler;
mod scheduler;
mod utf8;

use std::path::PathBuf;
use std::sync::mpsc::{self as std_mpsc, SyncSender, TrySendError};
use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use super::{BackendInfo, ChatBackend, GenerateJob};
use crate::EngineError;

/// How to run one GGUF model.
#[derive(Debug, Clone)]
pub struct LlamaOptions {
    pub path: PathBuf,
    /// CPU threads for decoding (default: all cores).
    pub threads: u32,
    /// Requests generated at the same time (KV cache sequences).
    pub parallel: u32,
    /// Context window of each sequence, in tokens (capped at the model's training context).
    pub context_per_sequence: u32,
    /// Requests waiting for a slot before new ones are refused with `Overloaded`.
    pub queue: usize,
    /// Most prompt tokens evaluated in one step.
    pub batch: u32,
}

impl LlamaOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
            parallel: 4,
            context_per_sequence: 4096,
            queue: 64,
            batch: 512,
        }
    }
}

/// A loaded GGUF model serving generation requests.
pub struct LlamaChat {
    jobs: SyncSender<GenerateJob>,
    info: BackendInfo,
    queue: usize,
    /// The same file loaded vocabulary-only, for counting tokens without the engine thread.
    vocab: LlamaModel,
}

impl std::fmt::Debug for LlamaChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaChat")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// llama.cpp's global state, initialised once per process and never freed.
fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(false),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Load(format!("llama.cpp failed to initialise: {e}")))
}

impl LlamaChat {
    /// Loads the model on a new engine thread; returns once it is ready to serve.
    pub fn load(options: LlamaOptions) -> Result<Self, EngineError> {
        if !options.path.is_file() {
            return Err(EngineError::Load(format!(
                "model file {} does not exist",
                options.path.display()
            )));
        }
        let backend = backend()?;
        let (jobs_tx, jobs_rx) = std_mpsc::sync_channel(options.queue);
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let queue = options.queue;
        let path = options.path.clone();
        let name = options
            .path
            .file_name()
            .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
        std::thread::Builder::new()
            .name(format!("llama:{name}"))
            .spawn(move || scheduler::run(backend, options, ready_tx, jobs_rx))
            .map_err(|e| EngineError::Load(format!("could not start the engine thread: {e}")))?;
        let info = ready_rx
            .recv()
            .map_err(|_| EngineError::Load("the engine thread ended while loading".into()))??;
        let vocab = LlamaModel::load_from_file(
            backend,
            &path,
            &LlamaModelParams::default().with_vocab_only(true),
        )
        .map_err(|e| {
            EngineError::Load(format!(
                "could not load the vocabulary of {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self {
            jobs: jobs_tx,
            info,
            queue,
            vocab,
        })
    }
}

impl ChatBackend for LlamaChat {
    fn submit(&self, job: GenerateJob) -> Result<(), EngineError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => EngineError::Overloaded(format!(
                "the local engine is busy ({} requests already waiting); retry shortly",
                self.queue
            )),
            TrySendError::Disconnected(_) => {
                EngineError::Internal("the local engine has stopped".into())
            }
        })
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    /// Counted exactly as a prompt is (special tokens parsed, BOS added where the model
    /// wants one), on a vocabulary-only copy of the model so the engine thread is not asked.
    fn count_tokens(&self, prompt: &str) -> usize {
        scheduler::tokenize_prompt(&self.vocab, prompt).len()
    }
}
