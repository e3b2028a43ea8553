//! Configuration in two phases, shared by startup, `config check` and (later) hot reload:
//!
//! 1. [`raw`]: the TOML file parsed into plain structs; unknown keys are errors, reported with
//!    the exact key path (`providers[0].base_urll`).
//! 2. [`validate`]: references resolved (`${ENV}` secrets, provider ids in routes), values
//!    checked, defaults applied, giving a [`Config`] that cannot be wrong in shape.
//!
//! This crate starts nothing and knows nothing of HTTP clients or providers' wire formats.

mod error;
mod exporters;
mod limits;
mod raw;
mod secret;
mod validate;
mod validated;

pub use error::ConfigError;
pub use limits::{AuditLimits, ServerLimits, WhenAuditFull};
pub use secret::Secret;
pub use validated::{
    AutoConfig, AwsConfig, AwsKeys, CacheConfig, Config, ExporterConfig, GcpConfig, LocalConfig,
    LogConfig, LogFormat, MediaConfig, ModelConfig, ProviderConfig, ProviderKind, RedisConfig,
    RouteStrategy, RouteTarget, RoutingConfig, TargetCapabilities, TargetPrice, Timeouts,
};

/// Reads, parses and validates a config file. `env` resolves `${VAR}` references.
pub fn load_file(
    path: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        message: source.to_string(),
    })?;
    load_str(&text, env)
}

/// Parses and validates config text.
pub fn load_str(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let raw = raw::parse(text)?;
    validate::validate(raw, env)
}

/// Resolves `${VAR}` from the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests;

/// Why `offline = true` forbids this provider (`None`: allowed). Allowed: the embedded
/// engine, and upstreams whose configured address is a loopback or private IP literal or
/// `localhost` (on-premises hosts reached without DNS or a route out). Refused: every
/// provider without a base URL (its default is a public API) and every host name or public
/// address.
pub fn offline_refusal(provider: &ProviderConfig) -> Option<String> {
    if provider.kind == ProviderKind::Local {
        return None;
    }
    let Some(url) = provider.base_url.as_deref() else {
        return Some(format!(
            "`offline = true` forbids `{}`: without a base_url it calls its public API",
            provider.id
        ));
    };
    offline_url_refusal(&provider.id, url)
}

/// Why `offline = true` forbids sending to `url` (`name` says what sends): its host is not
/// `localhost`, a loopback or a private address.
pub fn offline_url_refusal(name: &str, url: &str) -> Option<String> {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .map(|hostport| {
            if let Some(v6) = hostport.strip_prefix('[') {
                v6.split(']').next().unwrap_or("").to_owned()
            } else {
                hostport.split(':').next().unwrap_or("").to_owned()
            }
        })
        .unwrap_or_default();
    let local = host.eq_ignore_ascii_case("localhost")
        || match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                ip.is_loopback() || ip.is_private() || ip.is_link_local()
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00
            }
            Err(_) => false,
        };
    (!local).then(|| {
        format!("`offline = true` forbids `{name}`: `{host}` is not a loopback or private address")
    })
}
