//! Phase 2: resolve references, check values, apply defaults.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard_types::{Hosting, Jurisdiction};

mod provider;

use crate::error::ConfigError;
use crate::raw::{RawConfig, RawMedia, RawModel, RawProvider, RawRouting, RawTimeouts};
use crate::secret::Secret;
use crate::validated::{
    AutoConfig, AwsConfig, AwsKeys, CacheConfig, Config, GcpConfig, LocalConfig, LogConfig,
    LogFormat, MediaConfig, ModelConfig, ProviderConfig, ProviderKind, RedisConfig, RouteStrategy,
    RouteTarget, RoutingConfig, TargetCapabilities, TargetPrice, Timeouts,
};

pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn validate(raw: RawConfig, env: Env<'_>) -> Result<Config, ConfigError> {
    let listen = parse_listen("listen", raw.listen.as_deref())?;
    let admin_listen = match raw.admin.as_ref().and_then(|a| a.listen.as_deref()) {
        None => parse_listen("admin.listen", Some(Config::DEFAULT_ADMIN_LISTEN))?,
        Some(value) => parse_listen("admin.listen", Some(value))?,
    };
    if admin_listen == listen {
        return Err(ConfigError::invalid(
            "admin.listen",
            "must differ from `listen`: the admin API has its own listener",
        ));
    }
    let api_keys = raw
        .api_keys
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let key = format!("api_keys[{i}]");
            let secret = resolve_env(&key, value, env)?;
            if secret.is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
            Ok(Secret::new(secret))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let drain_timeout = match raw.drain_timeout_s {
        Some(s) => seconds("drain_timeout_s", s)?,
        None => Duration::from_secs(30),
    };
    let base_timeouts = timeouts("timeouts", raw.timeouts.as_ref(), Timeouts::default())?;
    let log = log_config(raw.log.as_ref())?;
    let offline = raw.offline.unwrap_or(false);
    let mut media = media_config(raw.media.as_ref())?;
    media.offline = offline;
    let routing = routing_config(raw.routing.as_ref())?;
    let store_url = match raw.store.as_ref().and_then(|s| s.url.as_deref()) {
        None => None,
        Some(value) => {
            let url = resolve_env("store.url", value, env)?;
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|scheme| url.starts_with(scheme)) {
                return Err(ConfigError::invalid(
                    "store.url",
                    "must start with sqlite:, postgres:// or postgresql://",
                ));
            }
            Some(Secret::new(url))
        }
    };
    let redis = match raw.store.as_ref() {
        Some(store) => redis_config(store, env)?,
        None => None,
    };

    let mut providers = Vec::with_capacity(raw.providers.len());
    let mut seen = HashSet::new();
    for (i, p) in raw.providers.iter().enumerate() {
        let provider = provider::provider(i, p, base_timeouts, env)?;
        if !seen.insert(provider.id.clone()) {
            return Err(ConfigError::invalid(
                format!("providers[{i}].id"),
                format!("duplicate provider id `{}`", provider.id),
            ));
        }
        if offline {
            if let Some(why) = crate::offline_refusal(&provider) {
                return Err(ConfigError::invalid(format!("providers[{i}]"), why));
            }
        }
        providers.push(provider);
    }

    let mut models = Vec::with_capacity(raw.models.len());
    let mut names = HashSet::new();
    for (i, m) in raw.models.iter().enumerate() {
        let model = model(i, m, &providers)?;
        if !names.insert(model.name.clone()) {
            return Err(ConfigError::invalid(
                format!("models[{i}].name"),
                format!("duplicate model name `{}`", model.name),
            ));
        }
        models.push(model);
    }

    let auto = match &raw.auto {
        None => None,
        Some(a) => {
            let name = a.name.clone().unwrap_or_else(|| "auto".to_owned());
            if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "auto.name",
                    "must be 1-256 printable characters",
                ));
            }
            if names.contains(&name) {
                return Err(ConfigError::invalid(
                    "auto.name",
                    format!("`{name}` is already a configured model"),
                ));
            }
            let min_tier = a.min_tier.unwrap_or(1);
            if !(1..=5).contains(&min_tier) {
                return Err(ConfigError::invalid("auto.min_tier", "must be 1-5"));
            }
            if models.is_empty() {
                return Err(ConfigError::invalid(
                    "auto",
                    "needs at least one [[models]] route whose deployments it can choose from",
                ));
            }
            Some(AutoConfig { name, min_tier })
        }
    };

    let pii = pii_detector(&raw.pii_patterns)?;
    let policies = policies(&raw.policies, &pii)?;
    let default_policy = match &raw.default_policy {
        None => None,
        Some(name) if policies.iter().any(|p| p.name == *name) => Some(name.clone()),
        Some(name) => {
            return Err(ConfigError::invalid(
                "default_policy",
                format!("no [[policies]] entry is named `{name}`"),
            ))
        }
    };

    let exporters = crate::exporters::exporters(&raw.exporters, offline, env)?;
    let cache = cache_config(raw.cache.as_ref())?;
    let server = crate::limits::server(raw.server.as_ref())?;
    let audit = crate::limits::audit(raw.audit.as_ref())?;

    Ok(Config {
        listen,
        api_keys,
        drain_timeout,
        log,
        media,
        routing,
        auto,
        store_url,
        redis,
        admin_listen,
        providers,
        models,
        policies,
        default_policy,
        pii,
        offline,
        exporters,
        cache,
        server,
        audit,
    })
}

/// `[cache]`: `None` unless `enabled = true`.
fn cache_config(raw: Option<&crate::raw::RawCache>) -> Result<Option<CacheConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let ttl = seconds("cache.ttl_s", raw.ttl_s.unwrap_or(300.0))?;
    let max_entries = raw.max_entries.unwrap_or(10_000);
    if !(1..=10_000_000).contains(&max_entries) {
        return Err(ConfigError::invalid(
            "cache.max_entries",
            "must be between 1 and 10000000",
        ));
    }
    let max_bytes = raw.max_bytes.unwrap_or(64 * 1024 * 1024);
    if !(1024..=64 * 1024 * 1024 * 1024).contains(&max_bytes) {
        return Err(ConfigError::invalid(
            "cache.max_bytes",
            "must be between 1024 and 68719476736 (64 GiB)",
        ));
    }
    Ok(raw.enabled.unwrap_or(false).then_some(CacheConfig {
        ttl,
        max_entries,
        max_bytes,
    }))
}

/// The PII detector: the built-in kinds, the presets and the `[[pii_patterns]]`.
fn pii_detector(
    raw: &[crate::raw::RawPiiPattern],
) -> Result<switchyard_policy::pii::Detector, ConfigError> {
    let specs: Vec<switchyard_policy::pii::IdSpec> = raw
        .iter()
        .map(|p| switchyard_policy::pii::IdSpec {
            name: p.name.clone(),
            regex: p.regex.clone(),
        })
        .collect();
    switchyard_policy::pii::Detector::new(&specs).map_err(|e| {
        // Name the pattern at fault: the first one that fails alone.
        let at = (0..specs.len())
            .find(|&i| switchyard_policy::pii::Detector::new(&specs[..=i]).is_err())
            .unwrap_or(0);
        ConfigError::invalid(format!("pii_patterns[{at}].{}", e.field), e.message)
    })
}

/// `[[policies]]`, each checked, names unique.
fn policies(
    raw: &[crate::raw::RawPolicy],
    pii: &switchyard_policy::pii::Detector,
) -> Result<Vec<switchyard_policy::Policy>, ConfigError> {
    let mut out: Vec<switchyard_policy::Policy> = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        let spec = switchyard_policy::PolicySpec {
            name: p.name.clone(),
            allow_jurisdictions: p.allow_jurisdictions.clone(),
            deny_jurisdictions: p.deny_jurisdictions.clone(),
            allow_operators: p.allow_operators.clone(),
            hosting: p.hosting.clone(),
            zero_retention: p.zero_retention,
            allow_models: p.allow_models.clone(),
            pii: p.pii.clone(),
            pii_kinds: p.pii_kinds.clone(),
        };
        let policy = switchyard_policy::Policy::with_detector(&spec, pii)
            .map_err(|e| ConfigError::invalid(format!("policies[{i}].{}", e.field), e.message))?;
        if out.iter().any(|q| q.name == policy.name) {
            return Err(ConfigError::invalid(
                format!("policies[{i}].name"),
                format!("`{}` is used by an earlier policy", policy.name),
            ));
        }
        out.push(policy);
    }
    Ok(out)
}

fn redis_config(
    store: &crate::raw::RawStore,
    env: Env<'_>,
) -> Result<Option<RedisConfig>, ConfigError> {
    let Some(value) = store.redis_url.as_deref() else {
        if store.replicas.is_some()
            || store.fallback_budget_usd.is_some()
            || store.reservation_timeout_s.is_some()
        {
            return Err(ConfigError::invalid(
                "store.redis_url",
                "`replicas`, `fallback_budget_usd` and `reservation_timeout_s` need a redis_url",
            ));
        }
        return Ok(None);
    };
    let url = resolve_env("store.redis_url", value, env)?;
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(ConfigError::invalid(
            "store.redis_url",
            "must start with redis:// or rediss://",
        ));
    }
    let replicas = store.replicas.unwrap_or(1);
    if !(1..=1000).contains(&replicas) {
        return Err(ConfigError::invalid("store.replicas", "must be 1-1000"));
    }
    let fallback = store.fallback_budget_usd.unwrap_or(1.0);
    if !(fallback.is_finite() && (0.0..=1e6).contains(&fallback)) {
        return Err(ConfigError::invalid(
            "store.fallback_budget_usd",
            "must be between 0 and 1e6",
        ));
    }
    let hold = store.reservation_timeout_s.unwrap_or(900);
    if !(10..=86_400).contains(&hold) {
        return Err(ConfigError::invalid(
            "store.reservation_timeout_s",
            "must be 10-86400 seconds",
        ));
    }
    Ok(Some(RedisConfig {
        url: Secret::new(url),
        replicas,
        fallback_budget_nano_usd: (fallback * 1e9).round() as i64,
        reservation_timeout: std::time::Duration::from_secs(hold),
    }))
}

fn routing_config(raw: Option<&RawRouting>) -> Result<RoutingConfig, ConfigError> {
    let mut routing = RoutingConfig::default();
    let Some(raw) = raw else {
        return Ok(routing);
    };
    if let Some(n) = raw.breaker_failures {
        if n == 0 {
            return Err(ConfigError::invalid(
                "routing.breaker_failures",
                "must be at least 1",
            ));
        }
        routing.breaker_failures = n;
    }
    if let Some(s) = raw.breaker_open_s {
        routing.breaker_open = seconds("routing.breaker_open_s", s)?;
    }
    if let Some(n) = raw.max_retries {
        if n > 10 {
            return Err(ConfigError::invalid("routing.max_retries", "must be 0-10"));
        }
        routing.max_retries = n;
    }
    if let Some(s) = raw.retry_backoff_s {
        routing.retry_backoff = seconds("routing.retry_backoff_s", s)?;
    }
    if let Some(f) = raw.retry_budget {
        if !(0.0..=1.0).contains(&f) {
            return Err(ConfigError::invalid(
                "routing.retry_budget",
                "must be a fraction between 0 and 1",
            ));
        }
        routing.retry_budget_permille = (f * 1000.0).round() as u32;
    }
    if let Some(s) = raw.health_check_interval_s.filter(|s| *s != 0.0) {
        let interval = seconds("routing.health_check_interval_s", s)?;
        if interval < Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "routing.health_check_interval_s",
                "must be 0 (off) or at least 0.1 seconds",
            ));
        }
        routing.health_check = Some(interval);
    }
    Ok(routing)
}

fn media_config(raw: Option<&RawMedia>) -> Result<MediaConfig, ConfigError> {
    let mut media = MediaConfig::default();
    let Some(raw) = raw else {
        return Ok(media);
    };
    if let Some(bytes) = raw.max_bytes {
        if !(1..=100 * 1024 * 1024).contains(&bytes) {
            return Err(ConfigError::invalid(
                "media.max_bytes",
                "must be between 1 and 104857600 (100 MiB)",
            ));
        }
        media.max_bytes = bytes;
    }
    const GIB: u64 = 1024 * 1024 * 1024;
    if let Some(bytes) = raw.max_request_bytes {
        if !(1..=GIB).contains(&bytes) {
            return Err(ConfigError::invalid(
                "media.max_request_bytes",
                "must be between 1 and 1073741824 (1 GiB)",
            ));
        }
        media.max_request_bytes = bytes;
    }
    if let Some(bytes) = raw.max_in_flight_bytes {
        if !(1..=64 * GIB).contains(&bytes) {
            return Err(ConfigError::invalid(
                "media.max_in_flight_bytes",
                "must be between 1 and 68719476736 (64 GiB)",
            ));
        }
        media.max_in_flight_bytes = bytes;
    }
    if let Some(n) = raw.max_concurrent_fetches {
        if !(1..=1024).contains(&n) {
            return Err(ConfigError::invalid(
                "media.max_concurrent_fetches",
                "must be between 1 and 1024",
            ));
        }
        media.max_concurrent_fetches = n;
    }
    if let Some(s) = raw.timeout_s {
        media.timeout = seconds("media.timeout_s", s)?;
    }
    if let Some(allow) = raw.allow_private_networks {
        media.allow_private_networks = allow;
    }
    Ok(media)
}

pub fn parse_listen(key: &str, value: Option<&str>) -> Result<SocketAddr, ConfigError> {
    let text = value.unwrap_or(Config::DEFAULT_LISTEN);
    text.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("`{text}` is not a socket address such as 127.0.0.1:4000"),
        )
    })
}

/// Replaces every `${NAME}` with the environment variable's value; a missing variable is an
/// error naming the key and the variable (never the value).
pub(crate) fn resolve_env(key: &str, value: &str, env: Env<'_>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::invalid(key, "unterminated `${` reference"));
        };
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::invalid(
                key,
                format!("`${{{name}}}` is not a valid environment variable reference"),
            ));
        }
        match env(name) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(ConfigError::invalid(
                    key,
                    format!("environment variable `{name}` is not set"),
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn seconds(key: &str, value: f64) -> Result<Duration, ConfigError> {
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        return Err(ConfigError::invalid(
            key,
            format!("must be a number of seconds between 0 and 86400, got {value}"),
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn timeouts(key: &str, raw: Option<&RawTimeouts>, base: Timeouts) -> Result<Timeouts, ConfigError> {
    let Some(raw) = raw else { return Ok(base) };
    let pick = |name: &str, v: Option<f64>, default: Duration| match v {
        Some(s) => seconds(&format!("{key}.{name}"), s),
        None => Ok(default),
    };
    Ok(Timeouts {
        connect: pick("connect_s", raw.connect_s, base.connect)?,
        first_byte: pick("first_byte_s", raw.first_byte_s, base.first_byte)?,
        idle: pick("idle_s", raw.idle_s, base.idle)?,
        total: pick("total_s", raw.total_s, base.total)?,
    })
}

fn log_config(raw: Option<&crate::raw::RawLog>) -> Result<LogConfig, ConfigError> {
    let format = match raw.and_then(|l| l.format.as_deref()) {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::invalid(
                "log.format",
                format!("unknown log format `{other}`; expected `text` or `json`"),
            ))
        }
    };
    let level = raw
        .and_then(|l| l.level.clone())
        .unwrap_or_else(|| "info".to_owned());
    Ok(LogConfig { format, level })
}

fn model(i: usize, m: &RawModel, providers: &[ProviderConfig]) -> Result<ModelConfig, ConfigError> {
    if m.name.is_empty() || m.name.len() > 256 || m.name.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            format!("models[{i}].name"),
            "must be 1-256 printable characters",
        ));
    }
    if m.route.is_empty() {
        return Err(ConfigError::invalid(
            format!("models[{i}].route"),
            "needs at least one { provider, model } target",
        ));
    }
    let mut route = Vec::with_capacity(m.route.len());
    for (j, target) in m.route.iter().enumerate() {
        let provider = providers
            .iter()
            .position(|p| p.id == target.provider)
            .ok_or_else(|| {
                ConfigError::invalid(
                    format!("models[{i}].route[{j}].provider"),
                    format!("no provider with id `{}`", target.provider),
                )
            })?;
        if target.model.is_empty() {
            return Err(ConfigError::invalid(
                format!("models[{i}].route[{j}].model"),
                "must not be empty",
            ));
        }
        let weight = target.weight.unwrap_or(1);
        if weight > 1_000_000 {
            return Err(ConfigError::invalid(
                format!("models[{i}].route[{j}].weight"),
                "must be at most 1000000",
            ));
        }
        let at = |field: &str| format!("models[{i}].route[{j}].{field}");
        let capabilities = match &target.capabilities {
            None => TargetCapabilities::default(),
            Some(c) => {
                if c.context_window == Some(0) || c.max_output == Some(0) {
                    return Err(ConfigError::invalid(
                        at("capabilities"),
                        "context_window and max_output must be above 0",
                    ));
                }
                TargetCapabilities {
                    tools: c.tools,
                    vision: c.vision,
                    json_schema: c.json_schema,
                    reasoning: c.reasoning,
                    context_window: c.context_window,
                    max_output: c.max_output,
                }
            }
        };
        let price = match &target.price {
            None => None,
            Some(p) => {
                let cached_input = p.cached_input.unwrap_or(p.input);
                let valid = [p.input, p.output, cached_input]
                    .iter()
                    .all(|v| v.is_finite() && *v >= 0.0 && *v <= 10_000.0);
                if !valid {
                    return Err(ConfigError::invalid(
                        at("price"),
                        "input, output and cached_input are USD per million tokens, 0-10000",
                    ));
                }
                Some(TargetPrice {
                    input: p.input,
                    output: p.output,
                    cached_input,
                })
            }
        };
        if target.tier.is_some_and(|t| !(1..=5).contains(&t)) {
            return Err(ConfigError::invalid(at("tier"), "must be 1-5"));
        }
        route.push(RouteTarget {
            provider,
            model: target.model.clone(),
            weight,
            capabilities,
            price,
            tier: target.tier,
        });
    }
    let strategy = match m.strategy.as_deref() {
        None => RouteStrategy::Priority,
        Some(name) => RouteStrategy::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let known: Vec<&str> = RouteStrategy::ALL.iter().map(|(n, _)| *n).collect();
                ConfigError::invalid(
                    format!("models[{i}].strategy"),
                    format!(
                        "unknown strategy `{name}`; expected one of: {}",
                        known.join(", ")
                    ),
                )
            })?,
    };
    if strategy == RouteStrategy::Weighted && route.iter().all(|t| t.weight == 0) {
        return Err(ConfigError::invalid(
            format!("models[{i}].route"),
            "a weighted route needs at least one target with a weight above 0",
        ));
    }
    Ok(ModelConfig {
        name: m.name.clone(),
        strategy,
        route,
    })
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ConfigError::invalid(key, format!("`{url}` is not a valid URL")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(ConfigError::invalid(
                key,
                format!("`{url}` must start with http:// or https://"),
            ))
        }
    }
    if uri.host().is_none() {
        return Err(ConfigError::invalid(key, format!("`{url}` has no host")));
    }
    if uri.query().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must not contain a query string; use api_version for Azure",
        ));
    }
    Ok(())
}

/// A deployment's (or exporter's) `jurisdiction`: an ISO 3166 code or a known group;
/// `UNKNOWN` when not written.
pub(crate) fn parse_jurisdiction(
    key: &str,
    text: Option<&str>,
) -> Result<Jurisdiction, ConfigError> {
    let Some(j) = text else {
        return Ok(Jurisdiction("UNKNOWN".to_owned()));
    };
    let valid = (2..=8).contains(&j.len()) && j.chars().all(|c| c.is_ascii_uppercase() || c == '-');
    if !valid {
        return Err(ConfigError::invalid(
            key,
            format!(
                "`{j}` must be an ISO 3166 code or a group such as EU, EEA, US, CH (upper case)"
            ),
        ));
    }
    if switchyard_policy::places::place(j).is_none() {
        return Err(ConfigError::invalid(
            key,
            format!("`{j}` is not an ISO 3166 country code or a known group (EU, EEA, EFTA, APAC, UK, GLOBAL, UNKNOWN, LOCAL)"),
        ));
    }
    Ok(Jurisdiction(j.to_owned()))
}

/// `retention`: `zero`, `unknown` or a number of days.
pub(crate) fn parse_retention(
    key: &str,
    text: Option<&str>,
) -> Result<Option<switchyard_types::Retention>, ConfigError> {
    match text {
        None => Ok(None),
        Some(text) => switchyard_types::Retention::parse(text)
            .map(Some)
            .ok_or_else(|| {
                ConfigError::invalid(
                    key,
                    format!("`{text}` must be zero, unknown or a number of days such as 30d"),
                )
            }),
    }
}

/// `hosting`: `cloud` (the default), `on-prem` or `embedded`.
pub(crate) fn parse_hosting(key: &str, text: Option<&str>) -> Result<Hosting, ConfigError> {
    match text {
        None | Some("cloud") => Ok(Hosting::Cloud),
        Some("on-prem") => Ok(Hosting::OnPrem),
        Some("embedded") => Ok(Hosting::Embedded),
        Some(other) => Err(ConfigError::invalid(
            key,
            format!("unknown hosting `{other}`; expected cloud, on-prem or embedded"),
        )),
    }
}

/// Extra HTTP headers (`${ENV}` references resolved), names lower-cased, values secret;
/// `key` names the table in errors.
pub(crate) fn parse_headers(
    key: &str,
    headers: &std::collections::BTreeMap<String, String>,
    env: Env<'_>,
) -> Result<Vec<(String, Secret)>, ConfigError> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let key = format!("{key}.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ConfigError::invalid(key, "not a valid HTTP header name"));
        }
        let value = resolve_env(&key, value, env)?;
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(ConfigError::invalid(key, "not a valid HTTP header value"));
        }
        out.push((name.to_ascii_lowercase(), Secret::new(value)));
    }
    Ok(out)
}
