//! Configuration in two phases, shared by startup, `config check` and (later) hot reload:
//!
//! 1. [`raw`]: the TOML file parsed into plain structs; unknown keys are errors, reported with
//!    the exact key path (`providers[0].base_urll`).
//! 2. [`validate`]: references resolved (`${ENV}` secrets, provider ids in routes), values
//!    checked, defaults applied, giving a [`Config`] that cannot be wrong in shape.
//!
//! This crate starts nothing and knows nothing of HTTP clients or providers' wire formats.

mod error;
mod raw;
mod secret;
mod validate;
mod validated;

pub use error::ConfigError;
pub use secret::Secret;
pub use validated::{
    AutoConfig, AwsConfig, AwsKeys, Config, GcpConfig, LocalConfig, LogConfig, LogFormat,
    MediaConfig, ModelConfig, ProviderConfig, ProviderKind, RedisConfig, RouteStrategy,
    RouteTarget, RoutingConfig, TargetCapabilities, TargetPrice, Timeouts,
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
