//! Per-host differences of the OpenAI-compatible hosts, as data. Adding a host is adding a
//! row here (and a name in `config::ProviderKind`), not code.

use switchyard_config::ProviderKind;

/// How the API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// Azure's `api-key: KEY`.
    ApiKeyHeader,
}

/// How request URLs are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// `{base}/chat/completions`.
    OpenAi,
    /// Azure: `{base}/openai/deployments/{deployment}/chat/completions?api-version=V`, or the
    /// v1 API `{base}/openai/v1/chat/completions` when no `api_version` is configured.
    Azure,
}

/// Which field carries the output token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    MaxCompletionTokens,
    MaxTokens,
}

/// What a host accepts beyond the common core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostQuirks {
    pub default_base_url: Option<&'static str>,
    pub auth: AuthStyle,
    pub urls: UrlStyle,
    pub max_tokens_field: MaxTokensField,
    /// Accepts `stream_options.include_usage` (otherwise it must not be sent, or the host
    /// rejects the request or ignores it and reports usage on its own).
    pub stream_usage_option: bool,
    /// Knows the `developer` role (otherwise it is sent as `system`).
    pub developer_role: bool,
    /// Takes `response_format: {type: json_schema, schema}` with the schema at the top level
    /// (llama.cpp) instead of under `json_schema`.
    pub schema_at_top_level: bool,
    /// Tool-call ids must be exactly 9 ASCII letters or digits (Mistral).
    pub tool_ids_alnum9: bool,
    /// Fetches `image_url` URLs itself (Ollama's shim takes base64 data URIs only).
    pub image_urls: bool,
    /// Takes `input_audio` and `file` parts.
    pub audio_and_files: bool,
    /// Takes the sampling extensions `top_k`, `min_p`, `repetition_penalty`.
    pub sampling_extensions: bool,
    /// Takes `reasoning_effort`.
    pub reasoning_effort: bool,
    /// Takes OpenAI-only request fields: `store`, `metadata`, `service_tier`,
    /// `prompt_cache_key`, `safety_identifier`.
    pub openai_extras: bool,
    /// Takes `logit_bias`, `logprobs`, `top_logprobs`.
    pub logprobs: bool,
}

const OPENAI: HostQuirks = HostQuirks {
    default_base_url: Some("https://api.openai.com/v1"),
    auth: AuthStyle::Bearer,
    urls: UrlStyle::OpenAi,
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    stream_usage_option: true,
    developer_role: true,
    schema_at_top_level: false,
    tool_ids_alnum9: false,
    image_urls: true,
    audio_and_files: true,
    sampling_extensions: false,
    reasoning_effort: true,
    openai_extras: true,
    logprobs: true,
};

/// A generic OpenAI-compatible host: core fields only.
const COMPATIBLE: HostQuirks = HostQuirks {
    default_base_url: None,
    auth: AuthStyle::Bearer,
    urls: UrlStyle::OpenAi,
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage_option: true,
    developer_role: false,
    schema_at_top_level: false,
    tool_ids_alnum9: false,
    image_urls: true,
    audio_and_files: false,
    sampling_extensions: false,
    reasoning_effort: false,
    openai_extras: false,
    logprobs: true,
};

impl HostQuirks {
    pub fn for_kind(kind: ProviderKind) -> HostQuirks {
        match kind {
            ProviderKind::OpenAi => OPENAI,
            ProviderKind::Azure => HostQuirks {
                default_base_url: None,
                auth: AuthStyle::ApiKeyHeader,
                urls: UrlStyle::Azure,
                ..OPENAI
            },
            ProviderKind::Mistral => HostQuirks {
                default_base_url: Some("https://api.mistral.ai/v1"),
                stream_usage_option: false,
                tool_ids_alnum9: true,
                logprobs: false,
                ..COMPATIBLE
            },
            ProviderKind::Groq => HostQuirks {
                default_base_url: Some("https://api.groq.com/openai/v1"),
                reasoning_effort: true,
                logprobs: false,
                ..COMPATIBLE
            },
            ProviderKind::Together => HostQuirks {
                default_base_url: Some("https://api.together.xyz/v1"),
                sampling_extensions: true,
                ..COMPATIBLE
            },
            ProviderKind::DeepSeek => HostQuirks {
                default_base_url: Some("https://api.deepseek.com/v1"),
                image_urls: false,
                ..COMPATIBLE
            },
            ProviderKind::Xai => HostQuirks {
                default_base_url: Some("https://api.x.ai/v1"),
                reasoning_effort: true,
                ..COMPATIBLE
            },
            ProviderKind::Fireworks => HostQuirks {
                default_base_url: Some("https://api.fireworks.ai/inference/v1"),
                sampling_extensions: true,
                ..COMPATIBLE
            },
            ProviderKind::Vllm => HostQuirks {
                default_base_url: Some("http://127.0.0.1:8000/v1"),
                max_tokens_field: MaxTokensField::MaxCompletionTokens,
                sampling_extensions: true,
                ..COMPATIBLE
            },
            ProviderKind::LlamaCpp => HostQuirks {
                default_base_url: Some("http://127.0.0.1:8080/v1"),
                schema_at_top_level: true,
                sampling_extensions: true,
                ..COMPATIBLE
            },
            ProviderKind::Tgi => HostQuirks {
                default_base_url: Some("http://127.0.0.1:8080/v1"),
                stream_usage_option: false,
                ..COMPATIBLE
            },
            ProviderKind::Ollama => HostQuirks {
                default_base_url: Some("http://127.0.0.1:11434/v1"),
                image_urls: false,
                sampling_extensions: true,
                logprobs: false,
                ..COMPATIBLE
            },
            // The embedded engine (`local/`), Anthropic and Gemini have their own
            // adapters; with no base URL, building an OpenAI-compatible one fails cleanly.
            ProviderKind::Local
            | ProviderKind::Anthropic
            | ProviderKind::Gemini
            | ProviderKind::OllamaNative
            | ProviderKind::Cohere
            | ProviderKind::Bedrock
            | ProviderKind::Vertex => HostQuirks {
                default_base_url: None,
                ..COMPATIBLE
            },
        }
    }
}
