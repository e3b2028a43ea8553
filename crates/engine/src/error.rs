//! Engine errors, classified by who is at fault.

/// Why the engine could not serve a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The request cannot be served as asked (too long for the context window, a feature the
    /// local models lack). The caller's fault: a 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// The prompt does not fit the context window. A 400 with code `context_length_exceeded`.
    #[error("{0}")]
    ContextLength(String),
    /// The request queue is full. Retry later: a 503.
    #[error("{0}")]
    Overloaded(String),
    /// The model's chat template is broken.
    #[error("{0}")]
    Template(String),
    /// Loading a model failed (missing file, wrong format).
    #[error("{0}")]
    Load(String),
    /// The engine itself failed (decode error, engine thread gone).
    #[error("{0}")]
    Internal(String),
}
