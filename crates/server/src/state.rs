//! Everything a request needs, built once from a validated config.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchyard_config::{Config, ProviderKind, RouteStrategy, RouteTarget};
use switchyard_providers::{
    Anthropic, Bedrock, Cohere, Gemini, Local, MediaFetcher, OllamaNative, OpenAiCompat, Provider,
};
use switchyard_routing::catalog::{InfoOverride, Price};
use switchyard_routing::health::{BreakerConfig, DeploymentHealth};
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
    /// Per model, per deployment (configured order): what routing knows of its health.
    pub health: Vec<Vec<Mutex<DeploymentHealth>>>,
    pub breaker: BreakerConfig,
    pub max_retries: u32,
    pub retry_backoff: std::time::Duration,
    pub retry_budget: crate::retry::RetryBudget,
    /// The routing clock's zero.
    pub clock: Instant,
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
                strategy: strategy(m.strategy),
                weights: m.route.iter().map(|t| t.weight).collect(),
                overrides: m.route.iter().map(info_override).collect(),
                min_tier: 0,
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
        let mut models = models;
        if let Some(auto) = &config.auto {
            models.push(auto_route(&models, &auto.name, auto.min_tier));
        }
        let model_names = models.iter().map(|m| m.name.clone()).collect();
        let health = models
            .iter()
            .map(|m| {
                m.deployments
                    .iter()
                    .map(|_| Mutex::new(DeploymentHealth::default()))
                    .collect()
            })
            .collect();
        let provider_ids: Vec<String> = config.providers.iter().map(|p| p.id.clone()).collect();
        Ok(AppState {
            inner: Arc::new(Inner {
                routes: RouteTable::new(models),
                health,
                breaker: BreakerConfig {
                    failures_to_open: config.routing.breaker_failures,
                    open_ms: u64::try_from(config.routing.breaker_open.as_millis())
                        .unwrap_or(u64::MAX),
                },
                clock: Instant::now(),
                max_retries: config.routing.max_retries,
                retry_backoff: config.routing.retry_backoff,
                retry_budget: crate::retry::RetryBudget::new(config.routing.retry_budget_permille),
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

/// The `auto` model: every distinct deployment of the configured routes, cheapest first,
/// none below `min_tier`.
fn auto_route(models: &[ModelRoute], name: &str, min_tier: u8) -> ModelRoute {
    let mut route = ModelRoute {
        name: name.to_owned(),
        deployments: Vec::new(),
        strategy: Strategy::Cheapest,
        weights: Vec::new(),
        overrides: Vec::new(),
        min_tier,
    };
    for model in models {
        for (i, deployment) in model.deployments.iter().enumerate() {
            if route.deployments.iter().any(|d| d.id == deployment.id) {
                continue;
            }
            route.deployments.push(deployment.clone());
            route.weights.push(1);
            route
                .overrides
                .push(model.overrides.get(i).copied().unwrap_or_default());
        }
    }
    route
}

/// What the config says of a deployment, over the built-in catalog.
fn info_override(target: &RouteTarget) -> InfoOverride {
    let c = &target.capabilities;
    InfoOverride {
        tools: c.tools,
        vision: c.vision,
        json_schema: c.json_schema,
        reasoning: c.reasoning,
        context_window: c.context_window,
        max_output: c.max_output,
        price: target.price.map(|p| Price {
            input: p.input,
            output: p.output,
            cached_input: p.cached_input,
        }),
        tier: target.tier,
    }
}

fn strategy(configured: RouteStrategy) -> Strategy {
    match configured {
        RouteStrategy::Priority => Strategy::Priority,
        RouteStrategy::Weighted => Strategy::Weighted,
        RouteStrategy::LeastLatency => Strategy::LeastLatency,
        RouteStrategy::LeastBusy => Strategy::LeastBusy,
        RouteStrategy::Cheapest => Strategy::Cheapest,
    }
}

impl Inner {
    /// Milliseconds on the routing clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A copy of model `model_index`'s deployment health, in configured order.
    pub fn health_snapshot(&self, model_index: usize) -> Vec<DeploymentHealth> {
        self.health
            .get(model_index)
            .map(|list| {
                list.iter()
                    .map(|h| h.lock().map(|h| *h).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Updates one deployment's health.
    pub fn with_health(
        &self,
        model_index: usize,
        position: usize,
        update: impl FnOnce(&mut DeploymentHealth),
    ) {
        if let Some(Ok(mut h)) = self
            .health
            .get(model_index)
            .and_then(|list| list.get(position))
            .map(|m| m.lock())
        {
            update(&mut h);
        }
    }
}
