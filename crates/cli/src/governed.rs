//! Opening the store a config names (or the default SQLite file under `$SWITCHYARD_HOME`),
//! and the key pepper from `SWITCHYARD_KEY_PEPPER`.

use std::path::PathBuf;

use switchyard_config::Config;
use switchyard_governance::Pepper;
use switchyard_store::Store;

use crate::Failure;

/// The environment variable holding the pepper virtual keys are hashed under.
pub const PEPPER_ENV: &str = "SWITCHYARD_KEY_PEPPER";

/// The store's URL: the config's `[store] url`, else `switchyard.db` under the home.
pub fn store_url(config: &Config) -> String {
    match &config.store_url {
        Some(url) => url.expose().to_owned(),
        None => format!("sqlite://{}", default_file().display()),
    }
}

/// Where this machine's ledger spool lives: `$SWITCHYARD_HOME/spool`.
pub fn spool_dir() -> PathBuf {
    switchyard_models::Store::from_env().home().join("spool")
}

fn default_file() -> PathBuf {
    switchyard_models::Store::from_env()
        .home()
        .join("switchyard.db")
}

/// Opens (creating and migrating) the store.
pub async fn open_store(config: &Config) -> Result<Store, Failure> {
    if config.store_url.is_none() {
        let file = default_file();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::failed(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    Store::open(&store_url(config))
        .await
        .map_err(|e| Failure::failed(e.to_string()))
}

/// The pepper, if set; a set but unusable one is an error.
pub fn pepper() -> Result<Option<Pepper>, Failure> {
    match std::env::var(PEPPER_ENV) {
        Ok(value) if !value.is_empty() => Pepper::new(&value)
            .map(Some)
            .map_err(|e| Failure::usage(e.to_string())),
        _ => Ok(None),
    }
}

/// The pepper, which making or checking a key needs.
pub fn required_pepper() -> Result<Pepper, Failure> {
    pepper()?.ok_or_else(|| {
        Failure::usage(format!(
            "{PEPPER_ENV} is not set: keys are stored only as HMACs under this secret; set it (32+ random characters, e.g. `openssl rand -hex 32`) and keep it for every replica"
        ))
    })
}

/// Redis-shared budgets and rate limits, when `[store] redis_url` is set. A Redis that does
/// not answer (at start or later) leaves each replica enforcing its share until it does.
pub async fn shared(
    config: &Config,
) -> Result<Option<switchyard_governance::governance::SharedSettings>, Failure> {
    let Some(redis) = &config.redis else {
        return Ok(None);
    };
    let shared = switchyard_governance::shared::Shared::start(redis.url.expose())
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "cannot use the Redis URL {}: {e}",
                switchyard_store::redact(redis.url.expose())
            ))
        })?;
    tracing::info!(
        redis = %switchyard_store::redact(redis.url.expose()),
        replicas = redis.replicas,
        "budgets and rate limits shared through Redis"
    );
    Ok(Some(switchyard_governance::governance::SharedSettings {
        shared,
        replicas: redis.replicas,
        fallback_allowance: redis.fallback_budget_nano_usd,
        hold_ms: i64::try_from(redis.reservation_timeout.as_millis()).unwrap_or(i64::MAX),
    }))
}
