//! Token usage, normalised across providers (see `reference/apis.md` §8.2).

use serde::{Deserialize, Serialize};

/// Token counts. `input_tokens` counts every prompt token, cached ones included;
/// `output_tokens` counts every generated token, reasoning included. The detail fields are
/// subsets of those totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens read from a provider-side cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Prompt tokens written to a provider-side cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}
