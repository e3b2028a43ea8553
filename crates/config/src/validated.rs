//! Phase 2 output: the configuration the rest of Switchyard uses.

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_types::{Hosting, Jurisdiction};

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub api_keys: Vec<Secret>,
    pub drain_timeout: Duration,
    pub log: LogConfig,
    pub media: MediaConfig,
    pub routing: RoutingConfig,
    /// `Some` when the config has an `[auto]` section.
    pub auto: Option<AutoConfig>,
    /// `None`: the default SQLite file under `$SWITCHYARD_HOME`.
    pub store_url: Option<Secret>,
    /// Redis for counters shared by replicas.
    pub redis: Option<RedisConfig>,
    /// Where the admin API listens (when `SWITCHYARD_ADMIN_TOKEN` is set).
    pub admin_listen: SocketAddr,
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<ModelConfig>,
    /// The `[[policies]]`, by name.
    pub policies: Vec<switchyard_policy::Policy>,
    /// The name of the policy every request is held to.
    pub default_policy: Option<String>,
    /// The PII guard's detector (built-in kinds, presets, `[[pii_patterns]]`).
    pub pii: switchyard_policy::pii::Detector,
    /// `offline = true`: no outbound connection (see [`crate::offline_refusal`]).
    pub offline: bool,
    /// `[[exporters]]`: OTLP collectors for request telemetry.
    pub exporters: Vec<ExporterConfig>,
    /// `[cache]`: `None` when off.
    pub cache: Option<CacheConfig>,
    /// `[server]`: what clients' connections may hold.
    pub server: crate::ServerLimits,
    /// `[audit]`: the audit queue's bound and its policy when full.
    pub audit: crate::AuditLimits,
}

/// The response cache's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    pub ttl: Duration,
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// An OTLP/HTTP collector and where it runs (judged by policies like a deployment).
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterConfig {
    pub name: String,
    /// Base URL, no trailing `/`.
    pub endpoint: String,
    pub traces: bool,
    pub logs: bool,
    pub jurisdiction: Jurisdiction,
    pub operator: String,
    pub hosting: Hosting,
    pub retention: Option<switchyard_types::Retention>,
    /// Extra headers (values are secrets: never printed).
    pub headers: Vec<(String, Secret)>,
    pub timeout: std::time::Duration,
}

/// Budgets and rate limits shared by replicas through Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    pub url: Secret,
    pub replicas: u32,
    /// Nano-dollars per budget a replica may reserve on its own while Redis is unreachable.
    pub fallback_budget_nano_usd: i64,
    /// How long a reservation stays held in Redis if its request never settles it.
    pub reservation_timeout: std::time::Duration,
}

/// How images and documents given by URL are fetched for upstreams that need them inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    pub max_bytes: u64,
    /// The most bytes fetched for one request, all its URLs together.
    pub max_request_bytes: u64,
    /// The most fetched bytes the whole process holds at once (every request together).
    pub max_in_flight_bytes: u64,
    /// The most fetches running at once in the whole process.
    pub max_concurrent_fetches: u32,
    pub timeout: Duration,
    pub allow_private_networks: bool,
    /// Offline mode: no URL is fetched.
    pub offline: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            max_bytes: 20 * 1024 * 1024,
            max_request_bytes: 32 * 1024 * 1024,
            max_in_flight_bytes: 256 * 1024 * 1024,
            max_concurrent_fetches: 16,
            timeout: Duration::from_secs(10),
            allow_private_networks: false,
            offline: false,
        }
    }
}

impl Config {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:4000";
    pub const DEFAULT_ADMIN_LISTEN: &'static str = "127.0.0.1:4001";

    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `switchyard=debug`.
    pub level: String,
}

/// Timeouts on every upstream IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to receiving response headers.
    pub first_byte: Duration,
    /// Longest silence between two body chunks.
    pub idle: Duration,
    /// The whole exchange, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(600),
        }
    }
}

/// Which wire format and per-host quirks a provider has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI itself, or any host speaking its wire format exactly.
    OpenAi,
    Azure,
    Mistral,
    Groq,
    Together,
    DeepSeek,
    Xai,
    Fireworks,
    Vllm,
    LlamaCpp,
    Tgi,
    /// Ollama's OpenAI-compatible `/v1`.
    Ollama,
    /// Switchyard's embedded engine: a model file running in this process.
    Local,
    /// The Anthropic Messages API.
    Anthropic,
    /// The Gemini API (`generativelanguage.googleapis.com`).
    Gemini,
    /// Ollama's own API (`/api/chat`, `/api/embed`).
    OllamaNative,
    /// Cohere's v2 API.
    Cohere,
    /// AWS Bedrock Runtime's Converse API, SigV4-signed.
    Bedrock,
    /// Google Vertex AI's Gemini models, with Google Cloud OAuth.
    Vertex,
}

impl ProviderKind {
    pub const ALL: [(&'static str, ProviderKind); 19] = [
        ("openai", ProviderKind::OpenAi),
        ("azure", ProviderKind::Azure),
        ("mistral", ProviderKind::Mistral),
        ("groq", ProviderKind::Groq),
        ("together", ProviderKind::Together),
        ("deepseek", ProviderKind::DeepSeek),
        ("xai", ProviderKind::Xai),
        ("fireworks", ProviderKind::Fireworks),
        ("vllm", ProviderKind::Vllm),
        ("llamacpp", ProviderKind::LlamaCpp),
        ("tgi", ProviderKind::Tgi),
        ("ollama", ProviderKind::Ollama),
        ("local", ProviderKind::Local),
        ("anthropic", ProviderKind::Anthropic),
        ("gemini", ProviderKind::Gemini),
        ("ollama-native", ProviderKind::OllamaNative),
        ("cohere", ProviderKind::Cohere),
        ("bedrock", ProviderKind::Bedrock),
        ("vertex", ProviderKind::Vertex),
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kind)| *kind == self)
            .map(|(n, _)| *n)
            .unwrap_or("openai")
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub kind: ProviderKind,
    /// `None`: the kind's well-known default (providers crate).
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    /// As configured; `UNKNOWN` (or `LOCAL` for the embedded engine) when not: then each
    /// deployment gets its endpoint's default (see `switchyard_policy::defaults`).
    pub jurisdiction: Jurisdiction,
    /// Whether `jurisdiction` was written in the config (it then overrides the defaults).
    pub jurisdiction_set: bool,
    pub hosting: Hosting,
    pub operator: Option<String>,
    /// As configured; `None`: the endpoint's default.
    pub retention: Option<switchyard_types::Retention>,
    pub api_version: Option<String>,
    /// Extra CA certificates (PEM) trusted for this provider's TLS connections.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// The cloud file references (URIs with a scheme) clients may pass, by prefix; each ends
    /// with `/`, so that `gs://a/` never admits `gs://ab/`. Empty: none.
    pub file_uri_prefixes: Vec<String>,
    /// Per tenant id, the narrower prefixes its keys may pass (each inside one of
    /// `file_uri_prefixes`). Not empty: a tenant's keys pass only what the nearest listed
    /// tenant of its family allows; keys of no tenant pass `file_uri_prefixes`.
    pub tenant_file_uri_prefixes: std::collections::BTreeMap<String, Vec<String>>,
    pub headers: Vec<(String, Secret)>,
    pub timeouts: Timeouts,
    /// Set exactly when `kind` is `Local`.
    pub local: Option<LocalConfig>,
    /// Set exactly when `kind` is `Bedrock`.
    pub aws: Option<AwsConfig>,
    /// Set exactly when `kind` is `Vertex`.
    pub gcp: Option<GcpConfig>,
}

/// Where a Vertex AI deployment runs and which Google credentials call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpConfig {
    /// From the config, else `GOOGLE_CLOUD_PROJECT`.
    pub project: String,
    /// `europe-west4`, `us-central1`, `global`, ...: from the config, else
    /// `GOOGLE_CLOUD_LOCATION`.
    pub location: String,
    /// A service-account or authorized-user JSON file; `None`: Application Default
    /// Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server).
    pub credentials_file: Option<std::path::PathBuf>,
}

/// Where a Bedrock deployment runs and how requests to it are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// `eu-central-1`, ...: from the config, else `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: String,
    /// Static keys from the config; `None`: the standard AWS credential chain.
    pub static_keys: Option<AwsKeys>,
    /// The shared-config profile the credential chain reads (`AWS_PROFILE` otherwise).
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// A model run by the embedded engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// A GGUF file (chat) or a sentence-transformers folder (embeddings).
    pub path: std::path::PathBuf,
    pub threads: Option<u32>,
    pub parallel: u32,
    pub context_size: u32,
    pub queue: u32,
}

impl LocalConfig {
    pub const DEFAULT_PARALLEL: u32 = 4;
    pub const DEFAULT_CONTEXT: u32 = 4096;
    pub const DEFAULT_QUEUE: u32 = 64;

    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            threads: None,
            parallel: Self::DEFAULT_PARALLEL,
            context_size: Self::DEFAULT_CONTEXT,
            queue: Self::DEFAULT_QUEUE,
        }
    }

    /// Whether this is an embedding model (a folder) rather than a GGUF chat model.
    pub fn is_embedding(&self) -> bool {
        self.path.is_dir()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub name: String,
    pub strategy: RouteStrategy,
    pub route: Vec<RouteTarget>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteTarget {
    /// Index into `Config::providers`.
    pub provider: usize,
    /// The upstream model id (for Azure: the deployment name).
    pub model: String,
    /// Share of traffic under [`RouteStrategy::Weighted`].
    pub weight: u32,
    /// Capabilities the config states, over the built-in catalog (unset: the catalog's).
    pub capabilities: TargetCapabilities,
    pub price: Option<TargetPrice>,
    pub tier: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetCapabilities {
    pub tools: Option<bool>,
    pub vision: Option<bool>,
    pub json_schema: Option<bool>,
    pub reasoning: Option<bool>,
    pub context_window: Option<u32>,
    pub max_output: Option<u32>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetPrice {
    pub input: f64,
    pub output: f64,
    pub cached_input: f64,
}

/// The `auto` model: among every configured deployment that can take a request and is of
/// at least `min_tier`, the one with the lowest expected cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoConfig {
    pub name: String,
    pub min_tier: u8,
}

/// Health tracking of deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingConfig {
    pub breaker_failures: u32,
    pub breaker_open: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    /// Retries per request allowed over a window (0.2: one retry per five requests).
    pub retry_budget_permille: u32,
    /// Active health checks: how often each remote deployment is sent a one-token request.
    pub health_check: Option<Duration>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            breaker_failures: 5,
            breaker_open: Duration::from_secs(30),
            max_retries: 2,
            retry_backoff: Duration::from_millis(100),
            retry_budget_permille: 200,
            health_check: None,
        }
    }
}

/// How a model's deployments are ordered for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteStrategy {
    /// In the order listed; later ones are fallbacks.
    #[default]
    Priority,
    Weighted,
    LeastLatency,
    LeastBusy,
    Cheapest,
}

impl RouteStrategy {
    pub const ALL: [(&'static str, RouteStrategy); 5] = [
        ("priority", RouteStrategy::Priority),
        ("weighted", RouteStrategy::Weighted),
        ("least-latency", RouteStrategy::LeastLatency),
        ("least-busy", RouteStrategy::LeastBusy),
        ("cheapest", RouteStrategy::Cheapest),
    ];
}
