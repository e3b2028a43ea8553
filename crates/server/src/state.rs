//! Everything a request needs, built once from a validated config.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use switchyard_config::{Config, ProviderKind};
use switchyard_providers::{
    Anthropic, Bedrock, Cohere, Gemini, Local, MediaFetcher, OllamaNative, OpenAiCompat, Provider,
};
use switchyard_routing::{ModelRoute, RouteTable, Strategy};
use switchyard_types::Deployment;

use crate::auth::Auth;
use crate::metrics::Metrics;

/// Shared, read-mostly server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

pub struct Inner {
    pub routes: RouteTable,
    /// By provider index in the config.
    pub providers: Vec<Provider>,
    pub provider_ids: Vec<String>,
    pub auth: Auth,
    pub metrics: Metrics,
    /// Fetches image and document URLs for providers that only take them inline.
    pub media: MediaFetcher,
    /// Set when shutdown begins: `/readyz` turns 503.
    pub draining: AtomicBool,
    /// Unix seconds when this state was built (`created` in `/v1/models`).
    pub created: u64,
}

/// The config is valid in shape but cannot be served (a provider cannot be set up).
#[derive(Debug, thiserror::Error)]
#[error("config error at `{key}`: {message}")]
pub struct BuildError {
    pub key: String,
    pub message: String,
}

impl AppState {
    pub fn build(config: &Config) -> Result<AppState, BuildError> {
        let mut providers = Vec::with_capacity(config.providers.len());
        for (i, p) in config.providers.iter().enumerate() {
            let built = match p.kind {
                ProviderKind::Local => Local::load(p).map(Provider::Local),
                ProviderKind::Anthropic => Anthropic::new(p).map(Provider::Anthropic),
                ProviderKind::Gemini => Gemini::new(p).map(Provider::Gemini),
                ProviderKind::OllamaNative => OllamaNative::new(p).map(Provider::OllamaNative),
                ProviderKind::Cohere => Cohere::new(p).map(Provider::Cohere),
                ProviderKind::Bedrock => Bedrock::new(p).map(Provider::Bedrock),
                ProviderKind::Vertex => Gemini::vertex(p).map(Provider::Gemini),
                _ => OpenAiCompat::new(p).map(Provider::OpenAiCompat),
            };
            providers.push(built.map_err(|e| BuildError {
                key: format!("providers[{i}]"),
                message: e.message,
            })?);
        }
        let models = config
            .models
            .iter()
            .map(|m| ModelRoute {
                name: m.name.clone(),
                // Strategies, weights and health are not wired into the server yet.
                strategy: Strategy::Priority,
                weights: vec![1; m.route.len()],
                deployments: m
                    .route
                    .iter()
                    .map(|target| {
                        let p = &config.providers[target.provider];
                        Deployment {
                            id: format!("{}/{}", p.id, target.model),
                            provider_index: target.provider,
                            provider_id: p.id.clone(),
                            upstream_model: target.model.clone(),
                            jurisdiction: p.jurisdiction.clone(),
                            hosting: p.hosting,
                        }
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let model_names = models.iter().map(|m| m.name.clone()).collect();
        let provider_ids: Vec<String> = config.providers.iter().map(|p| p.id.clone()).collect();
        Ok(AppState {
            inner: Arc::new(Inner {
                routes: RouteTable::new(models),
                providers,
                metrics: Metrics::new(model_names, provider_ids.clone()),
                provider_ids,
                auth: Auth::new(&config.api_keys),
                media: MediaFetcher::new(config.media).map_err(|e| BuildError {
                    key: "media".to_owned(),
                    message: e.message,
                })?,
                draining: AtomicBool::new(false),
                created: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            }),
        })
    }
}
