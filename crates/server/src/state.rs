//! Everything a request needs, built once from a validated config.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchyard_config::{Config, ProviderKind, RouteStrategy, RouteTarget};
use switchyard_governance::Governance;
use switchyard_policy::{Policy, Tags};
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
    /// Each route's deployments' tags, as policies read them (by model, then position).
    pub tags: Vec<Vec<Tags>>,
    /// The configured `[[policies]]`.
    pub policies: Vec<Policy>,
    /// The policy every request is held to (an index into `policies`).
    pub default_policy: Option<usize>,
    /// The PII guard's detector.
    pub pii: switchyard_policy::pii::Detector,
    /// By provider index in the config.
    pub providers: Vec<Provider>,
    pub provider_ids: Vec<String>,
    /// By provider index: the cloud file references clients may pass to it, by prefix.
    pub file_uri_prefixes: Vec<crate::files::Prefixes>,
    pub auth: Auth,
    /// The store, virtual keys and the usage ledger (absent in tests that need none).
    pub governance: Option<Arc<Governance>>,
    pub metrics: Metrics,
    /// Fetches image and document URLs for providers that only take them inline.
    pub media: MediaFetcher,
    /// `[[exporters]]`: request telemetry to OTLP collectors, within each request's policies.
    pub exporters: crate::export::Exporters,
    /// `[cache]`: kept answers (empty again after a reload).
    pub cache: Option<crate::cache::Cache>,
    /// What routing knows of each distinct deployment's health: one record per upstream
    /// endpoint and model, shared by every route that lists it, and carried over a config
    /// reload while the deployment stays the same (in-flight requests keep counting on it).
    pub health: Vec<Arc<Mutex<DeploymentHealth>>>,
    /// Per model, per deployment (configured order): its index in `health`.
    pub health_slots: Vec<Vec<usize>>,
    /// Per `health` record: the deployment it tracks (for probes and metrics).
    pub health_deployments: Vec<Deployment>,
    /// What identifies each `health` record across reloads.
    health_keys: Vec<String>,
    /// Active health checks: how often each remote deployment gets a one-token request.
    pub health_check: Option<std::time::Duration>,
    pub breaker: BreakerConfig,
    pub max_retries: u32,
    pub retry_backoff: std::time::Duration,
    pub retry_budget: crate::retry::RetryBudget,
    /// The routing clock's zero.
    pub clock: Instant,
    /// Set when shutdown begins: `/readyz` turns 503.
    pub draining: AtomicBool,
    /// Turned on when the drain ends: every stream still running ends with its dialect's
    /// in-band error. Shared by every state built from this one (reloads), so that streams
    /// started before a reload end too.
    pub streams_cut: Arc<tokio::sync::watch::Sender<bool>>,
    /// Unix seconds when this state was built (`created` in `/v1/models`).
    pub created: u64,
}

impl Inner {
    /// Ends every stream still running (the end of a shutdown's drain).
    pub fn cut_streams(&self) {
        self.streams_cut.send_replace(true);
    }
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
        AppState::build_after(config, None, None)
    }

    /// With governance: virtual keys accepted, usage recorded in the ledger.
    pub fn build_governed(
        config: &Config,
        governance: Option<Arc<Governance>>,
    ) -> Result<AppState, BuildError> {
        AppState::build_after(config, None, governance)
    }

    /// Builds the state a reloaded config serves from: deployments that are still the same
    /// (same id, upstream address and region) keep the health the running state learned,
    /// and governance (store, keys, ledger) stays the one opened at start.
    pub fn rebuild(config: &Config, previous: &AppState) -> Result<AppState, BuildError> {
        AppState::build_after(config, Some(previous), previous.inner.governance.clone())
    }

    fn build_after(
        config: &Config,
        previous: Option<&AppState>,
        governance: Option<Arc<Governance>>,
    ) -> Result<AppState, BuildError> {
        if let Some(governance) = &governance {
            governance.audit.set_limits(
                config.audit.queue,
                config.audit.when_full == switchyard_config::WhenAuditFull::Serve,
            );
        }
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
                        // Config tags first; the endpoint's defaults for what it leaves out.
                        let defaults = switchyard_policy::defaults::defaults(
                            p.kind.name(),
                            p.base_url.as_deref(),
                            p.aws.as_ref().map(|a| a.region.as_str()),
                            p.gcp.as_ref().map(|g| g.location.as_str()),
                            &target.model,
                        );
                        Deployment {
                            id: format!("{}/{}", p.id, target.model),
                            provider_index: target.provider,
                            provider_id: p.id.clone(),
                            upstream_model: target.model.clone(),
                            jurisdiction: if p.jurisdiction_set {
                                p.jurisdiction.clone()
                            } else {
                                switchyard_types::Jurisdiction(defaults.jurisdiction)
                            },
                            hosting: p.hosting,
                            operator: p.operator.clone().unwrap_or(defaults.operator),
                            retention: p.retention.unwrap_or(defaults.retention),
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
        // What policies read of each deployment; an unreadable jurisdiction is anywhere.
        let tags: Vec<Vec<Tags>> = models
            .iter()
            .map(|m| m.deployments.iter().map(deployment_tags).collect())
            .collect();
        let mut health: Vec<Arc<Mutex<DeploymentHealth>>> = Vec::new();
        let mut health_keys: Vec<String> = Vec::new();
        let mut health_deployments: Vec<Deployment> = Vec::new();
        let mut health_slots = Vec::with_capacity(models.len());
        for model in &models {
            let mut slots = Vec::with_capacity(model.deployments.len());
            for deployment in &model.deployments {
                let key = health_key(config, deployment);
                let slot = match health_keys.iter().position(|k| *k == key) {
                    Some(slot) => slot,
                    None => {
                        let carried = previous.and_then(|p| p.inner.health_record(&key));
                        health.push(carried.unwrap_or_default());
                        health_keys.push(key);
                        health_deployments.push(deployment.clone());
                        health_keys.len() - 1
                    }
                };
                slots.push(slot);
            }
            health_slots.push(slots);
        }
        let provider_ids: Vec<String> = config.providers.iter().map(|p| p.id.clone()).collect();
        Ok(AppState {
            inner: Arc::new(Inner {
                tags,
                default_policy: config
                    .default_policy
                    .as_ref()
                    .and_then(|name| config.policies.iter().position(|p| p.name == *name)),
                policies: config.policies.clone(),
                pii: config.pii.clone(),
                routes: RouteTable::new(models),
                health,
                health_slots,
                health_deployments,
                health_keys,
                health_check: config.routing.health_check,
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
                file_uri_prefixes: config
                    .providers
                    .iter()
                    .map(crate::files::Prefixes::of)
                    .collect(),
                auth: Auth::with_virtual_keys(
                    &config.api_keys,
                    governance.as_ref().map(|g| g.keys.clone()),
                ),
                governance,
                media: MediaFetcher::new(config.media).map_err(|e| BuildError {
                    key: "media".to_owned(),
                    message: e.message,
                })?,
                exporters: crate::export::Exporters::start(&config.exporters),
                cache: config.cache.map(crate::cache::Cache::new),
                draining: AtomicBool::new(false),
                streams_cut: previous
                    .map(|p| p.inner.streams_cut.clone())
                    .unwrap_or_else(|| Arc::new(tokio::sync::watch::channel(false).0)),
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

/// What makes two deployments the same one for health: the id and where requests go.
fn health_key(config: &Config, deployment: &Deployment) -> String {
    let p = config.providers.get(deployment.provider_index);
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        deployment.id,
        p.and_then(|p| p.base_url.as_deref()).unwrap_or(""),
        p.and_then(|p| p.aws.as_ref())
            .map_or("", |a| a.region.as_str()),
        p.and_then(|p| p.gcp.as_ref())
            .map_or(String::new(), |g| format!("{}/{}", g.project, g.location)),
    )
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
        self.health_slots
            .get(model_index)
            .map(|slots| slots.iter().map(|&slot| self.health_of(slot)).collect())
            .unwrap_or_default()
    }

    /// A copy of one health record.
    pub fn health_of(&self, slot: usize) -> DeploymentHealth {
        self.health
            .get(slot)
            .map(|h| match h.lock() {
                Ok(h) => *h,
                Err(poisoned) => *poisoned.into_inner(),
            })
            .unwrap_or_default()
    }

    /// Updates the health of model `model_index`'s deployment at `position`.
    pub fn with_health(
        &self,
        model_index: usize,
        position: usize,
        update: impl FnOnce(&mut DeploymentHealth),
    ) {
        if let Some(&slot) = self
            .health_slots
            .get(model_index)
            .and_then(|slots| slots.get(position))
        {
            self.with_health_slot(slot, update);
        }
    }

    /// Updates one health record.
    pub fn with_health_slot(&self, slot: usize, update: impl FnOnce(&mut DeploymentHealth)) {
        if let Some(h) = self.health.get(slot) {
            match h.lock() {
                Ok(mut h) => update(&mut h),
                Err(poisoned) => update(&mut poisoned.into_inner()),
            }
        }
    }

    /// The health record for a deployment with this key, to carry over a reload.
    fn health_record(&self, key: &str) -> Option<Arc<Mutex<DeploymentHealth>>> {
        let slot = self.health_keys.iter().position(|k| k == key)?;
        self.health.get(slot).cloned()
    }
}

/// A deployment's tags for policies.
fn deployment_tags(d: &Deployment) -> Tags {
    Tags::new(&d.jurisdiction.0, &d.operator, d.hosting, d.retention).unwrap_or_else(|| Tags {
        place: switchyard_policy::places::Place::In(switchyard_policy::places::Countries::ALL),
        jurisdiction: d.jurisdiction.0.clone(),
        operator: d.operator.clone(),
        hosting: d.hosting,
        retention: d.retention,
    })
}
