//! Phase 1: the file as written. Every struct rejects unknown keys.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::error::ConfigError;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `host:port` to listen on.
    pub listen: Option<String>,
    /// Client API keys accepted by the gateway (`${ENV}` references allowed). Empty: open,
    /// which is only allowed on a loopback address.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    pub drain_timeout_s: Option<f64>,
    pub timeouts: Option<RawTimeouts>,
    pub log: Option<RawLog>,
    pub media: Option<RawMedia>,
    pub routing: Option<RawRouting>,
    pub auto: Option<RawAuto>,
    pub store: Option<RawStore>,
    pub admin: Option<RawAdmin>,
    #[serde(default)]
    pub providers: Vec<RawProvider>,
    #[serde(default)]
    pub models: Vec<RawModel>,
    /// Sovereignty policies, selected per tenant, key or request (`x-switchyard-policy`).
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    /// A policy every request is held to (others can only narrow it).
    pub default_policy: Option<String>,
    /// Forbid every outbound connection: only the embedded engine and upstreams on loopback
    /// or private addresses, no URL fetching, no model downloads.
    pub offline: Option<bool>,
    /// National-id (or any other) patterns the PII guard finds besides its built-ins.
    #[serde(default)]
    pub pii_patterns: Vec<RawPiiPattern>,
    /// Where request telemetry goes (OTLP/HTTP), each tagged like a deployment.
    #[serde(default)]
    pub exporters: Vec<RawExporter>,
    /// The response cache (exact match, in memory, per replica).
    pub cache: Option<RawCache>,
    /// What clients' connections may hold (connections, timeouts, HTTP/2 streams).
    pub server: Option<crate::limits::RawServer>,
    /// The audit queue's bound and what happens when it is full.
    pub audit: Option<crate::limits::RawAudit>,
}

/// `[cache]`: answers kept for identical requests, scoped by caller and policies.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Default false.
    pub enabled: Option<bool>,
    /// Seconds an answer stays (default 300).
    pub ttl_s: Option<f64>,
    /// Answers kept at most (default 10,000).
    pub max_entries: Option<usize>,
    /// Bytes of answers kept at most (default 64 MiB).
    pub max_bytes: Option<usize>,
}

/// `[[exporters]]`: an OpenTelemetry collector that receives request traces and logs.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawExporter {
    pub name: String,
    /// `otlp` (OTLP/HTTP with JSON bodies), the only kind.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The collector's base URL; `/v1/traces` and `/v1/logs` are added.
    pub endpoint: String,
    /// `traces`, `logs` (default: both).
    pub signals: Option<Vec<String>>,
    pub jurisdiction: Option<String>,
    pub operator: Option<String>,
    pub hosting: Option<String>,
    pub retention: Option<String>,
    /// Sent with every export (`${ENV}` references allowed), e.g. an authorization token.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds one export may take (default 10).
    pub timeout_s: Option<f64>,
}

/// `[[pii_patterns]]`: a kind of personal data the PII guard finds by a regular expression.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPiiPattern {
    pub name: String,
    pub regex: String,
}

/// `[[policies]]`: where requests under this policy may be sent.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    pub allow_jurisdictions: Option<Vec<String>>,
    #[serde(default)]
    pub deny_jurisdictions: Vec<String>,
    pub allow_operators: Option<Vec<String>>,
    pub hosting: Option<Vec<String>>,
    #[serde(default)]
    pub zero_retention: bool,
    pub allow_models: Option<Vec<String>>,
    /// `off` (default), `block`, `redact` or `mask-and-restore`.
    pub pii: Option<String>,
    pub pii_kinds: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect_s: Option<f64>,
    pub first_byte_s: Option<f64>,
    pub idle_s: Option<f64>,
    pub total_s: Option<f64>,
}

/// Fetching images and documents given by URL for upstreams that only take inline data.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    /// Largest file fetched, in bytes (default 20 MiB).
    pub max_bytes: Option<u64>,
    /// Most bytes fetched for one request, all its URLs together (default 32 MiB).
    pub max_request_bytes: Option<u64>,
    /// Most fetched bytes held by the whole process at once (default 256 MiB).
    pub max_in_flight_bytes: Option<u64>,
    /// Most fetches running at once in the whole process (default 16).
    pub max_concurrent_fetches: Option<u32>,
    /// Seconds one fetch may take, redirects included (default 10).
    pub timeout_s: Option<f64>,
    /// Allow URLs that resolve to loopback, private, link-local or other non-public
    /// addresses (default false: the SSRF guard refuses them).
    pub allow_private_networks: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub jurisdiction: Option<String>,
    pub hosting: Option<String>,
    pub operator: Option<String>,
    /// How long the operator keeps what it is sent: `zero`, `30d`, `unknown`.
    pub retention: Option<String>,
    /// Azure OpenAI `api-version` for deployment URLs.
    pub api_version: Option<String>,
    /// PEM file with extra CA certificates to trust for this provider (an internal CA in
    /// front of an on-prem vLLM, say), on top of the built-in web roots.
    pub tls_ca_file: Option<String>,
    /// Cloud file references (`gs://...`, `s3://...`, hosted file URLs) clients may pass to
    /// this provider, by prefix; every other is refused, since the upstream would read it
    /// with the gateway's own credentials.
    #[serde(default)]
    pub file_uri_prefixes: Vec<String>,
    /// Per tenant (by id), the part of `file_uri_prefixes` its keys may pass: each prefix
    /// inside one of those. When any tenant is listed, a tenant's keys may pass only what
    /// the nearest listed tenant of its family allows (nothing, if none is listed).
    #[serde(default)]
    pub tenant_file_uri_prefixes: BTreeMap<String, Vec<String>>,
    /// Extra headers sent upstream (`${ENV}` references allowed).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeouts: Option<RawTimeouts>,
    /// `type = "local"`: a GGUF file (chat) or a sentence-transformers folder (embeddings).
    pub path: Option<String>,
    /// `type = "local"`: CPU threads (default: all cores).
    pub threads: Option<u32>,
    /// `type = "local"` chat: requests generated at once (default 4).
    pub parallel: Option<u32>,
    /// `type = "local"` chat: context window per request, in tokens (default 4096).
    pub context_size: Option<u32>,
    /// `type = "local"` chat: requests that may wait for a slot (default 64).
    pub queue: Option<u32>,
    /// `type = "bedrock"`: the AWS region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `type = "bedrock"`: static keys; without them the standard AWS credential chain is used.
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    /// `type = "bedrock"`: the profile in `~/.aws/config` / `~/.aws/credentials`.
    pub aws_profile: Option<String>,
    /// `type = "vertex"`: the Google Cloud project (default: `GOOGLE_CLOUD_PROJECT`).
    pub project: Option<String>,
    /// `type = "vertex"`: the location (default: `GOOGLE_CLOUD_LOCATION`).
    pub location: Option<String>,
    /// `type = "vertex"`: a service-account key file; without it, Application Default
    /// Credentials.
    pub credentials_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: String,
    /// `priority` (default), `weighted`, `least-latency`, `least-busy` or `cheapest`.
    pub strategy: Option<String>,
    pub route: Vec<RawRouteTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteTarget {
    pub provider: String,
    pub model: String,
    /// For `strategy = "weighted"` (default 1).
    pub weight: Option<u32>,
    /// What this deployment can do, over the built-in catalog.
    pub capabilities: Option<RawCapabilities>,
    /// USD per million tokens, over the built-in catalog.
    pub price: Option<RawPrice>,
    /// Quality tier 1-5, over the built-in catalog.
    pub tier: Option<u8>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCapabilities {
    pub tools: Option<bool>,
    pub vision: Option<bool>,
    pub json_schema: Option<bool>,
    pub reasoning: Option<bool>,
    pub context_window: Option<u32>,
    pub max_output: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
}

/// The `auto` model: every configured deployment, the cheapest that can take the request.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAuto {
    /// The model name clients send (default `auto`).
    pub name: Option<String>,
    /// Lowest quality tier, 1-5, a deployment needs to be picked (default 1).
    pub min_tier: Option<u8>,
}

/// The admin API's own listener.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `host:port` (default `127.0.0.1:4001`); the API runs when `SWITCHYARD_ADMIN_TOKEN` is set.
    pub listen: Option<String>,
}

/// Where keys, tenants and the usage ledger live.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite:///path/switchyard.db` or `postgres://user:password@host/db` (`${ENV}`
    /// references allowed). Default: `switchyard.db` under `$SWITCHYARD_HOME`.
    pub url: Option<String>,
    /// `redis://host:6379/0` (or `rediss://`): budgets and rate limits shared by replicas.
    pub redis_url: Option<String>,
    /// How many replicas share the limits (while Redis is unreachable each enforces
    /// limit / replicas). Default 1.
    pub replicas: Option<u32>,
    /// USD per budget each replica may still reserve on its own while Redis is unreachable
    /// (default 1.0; 0 closes budgets at once).
    pub fallback_budget_usd: Option<f64>,
    /// Seconds a budget reservation stays held in Redis if its request is never settled
    /// (its replica died); then it is released. Default 900.
    pub reservation_timeout_s: Option<u64>,
}

/// Health tracking of deployments.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Consecutive failures that eject a deployment (default 5).
    pub breaker_failures: Option<u32>,
    /// Seconds an ejected deployment gets no traffic before a probe (default 30).
    pub breaker_open_s: Option<f64>,
    /// Further attempts after a retryable failure (default 2).
    pub max_retries: Option<u32>,
    /// First backoff before retrying the same deployment, doubled each time (default 0.1).
    pub retry_backoff_s: Option<f64>,
    /// Retries allowed per request over a 10 s window, as a fraction (default 0.2).
    pub retry_budget: Option<f64>,
    /// Seconds between active health checks of each remote deployment (a one-token
    /// request); absent or 0: no active checks, health is learned from traffic only.
    pub health_check_interval_s: Option<f64>,
}

/// Parses TOML text, naming the exact key path of the first problem.
pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.message().to_owned();
        let location = inner
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        let key = if key == "." { "<root>".to_owned() } else { key };
        ConfigError::invalid(key, format!("{message}{location}"))
    })
}
