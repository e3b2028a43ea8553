//! The zero-config setup: with no config file, `serve` runs the catalog's default chat and
//! embedding models in-process, pulling them first if they are missing.

use switchyard_config::{
    Config, LocalConfig, ModelConfig, ProviderConfig, ProviderKind, RouteTarget, Timeouts,
};
use switchyard_models::catalog::{DEFAULT_CHAT, DEFAULT_EMBEDDING};
use switchyard_models::{find, Entry, ModelRole, Store};
use switchyard_types::{Hosting, Jurisdiction};

use crate::Failure;

/// The built-in defaults, present in `store` (pulled unless `offline`).
pub async fn default_config(base: Config, store: &Store, offline: bool) -> Result<Config, Failure> {
    let mut config = base;
    let defaults: &[&str] = if cfg!(feature = "llama") {
        &[DEFAULT_CHAT, DEFAULT_EMBEDDING]
    } else {
        tracing::warn!("built without the `llama` feature: serving the embedding model only");
        &[DEFAULT_EMBEDDING]
    };
    for &name in defaults {
        let entry = find(name)
            .ok_or_else(|| Failure::failed(format!("{name} is missing from the catalog")))?;
        if offline && !store.is_present(&entry) {
            return Err(Failure::failed(format!(
                "{name} is not in {} and --offline forbids pulling it; run `switchyard models pull {name}` where a network is available",
                store.home().display()
            )));
        }
        crate::pull::ensure(&entry, store).await?;
        add_local(&mut config, &entry, store);
    }
    Ok(config)
}

/// One local provider for `entry`, reachable by the entry's name and its aliases.
fn add_local(config: &mut Config, entry: &Entry, store: &Store) {
    let index = config.providers.len();
    let id = match entry.role {
        ModelRole::Chat => "local-chat",
        ModelRole::Embedding => "local-embedding",
    };
    config.providers.push(ProviderConfig {
        id: id.to_owned(),
        kind: ProviderKind::Local,
        base_url: None,
        api_key: None,
        jurisdiction: Jurisdiction("LOCAL".to_owned()),
        jurisdiction_set: false,
        retention: None,
        hosting: Hosting::Embedded,
        operator: None,
        api_version: None,
        tls_ca_file: None,
        file_uri_prefixes: Vec::new(),
        tenant_file_uri_prefixes: Default::default(),
        headers: Vec::new(),
        timeouts: Timeouts::default(),
        local: Some(LocalConfig::new(store.load_path(entry))),
        aws: None,
        gcp: None,
    });
    for name in std::iter::once(&entry.name).chain(&entry.aliases) {
        config.models.push(ModelConfig {
            name: name.clone(),
            strategy: Default::default(),
            route: vec![RouteTarget {
                provider: index,
                model: entry.name.clone(),
                weight: 1,
                capabilities: Default::default(),
                price: None,
                tier: None,
            }],
        });
    }
}
