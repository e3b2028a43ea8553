//! Shared by the adapters' tests: a provider config with short timeouts.

use std::time::Duration;

use switchyard_config::{ProviderConfig, ProviderKind, Secret, Timeouts};
use switchyard_types::{Hosting, Jurisdiction};

/// `base_url` as given (each adapter's tests pass the mock's root or its `/v1`).
pub fn provider_config(
    id: &str,
    kind: ProviderKind,
    base_url: &str,
    key: Option<&str>,
) -> ProviderConfig {
    ProviderConfig {
        id: id.to_owned(),
        kind,
        base_url: Some(base_url.to_owned()),
        api_key: key.map(Secret::new),
        jurisdiction: Jurisdiction("EU".to_owned()),
        jurisdiction_set: false,
        retention: None,
        hosting: Hosting::Cloud,
        operator: None,
        api_version: None,
        tls_ca_file: None,
        file_uri_prefixes: Vec::new(),
        tenant_file_uri_prefixes: Default::default(),
        headers: Vec::new(),
        local: None,
        aws: None,
        gcp: None,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_millis(500),
            idle: Duration::from_millis(300),
            total: Duration::from_secs(5),
        },
    }
}
