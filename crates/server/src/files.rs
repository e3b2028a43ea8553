//! Cloud file references (`gs://...`, `s3://...`, hosted file URLs) in a request, checked
//! before routing: an upstream reads such a reference with the gateway's own service account
//! or IAM role, so a client could make it read a bucket the client itself has no right to (a
//! confused deputy). A reference is passed on only when every deployment of the model's route
//! allow-lists its prefix (`file_uri_prefixes`): a fallback may otherwise hand it to another
//! account. Where tenants share a deployment, `tenant_file_uri_prefixes` narrows the list
//! per tenant, so one tenant cannot name another's folder. Plain provider file ids
//! (`file-abc`) carry no scheme and are the upstream account's own; they pass as before.

use std::collections::BTreeMap;

use switchyard_dialects::GatewayError;
use switchyard_governance::Caller;
use switchyard_types::{ChatRequest, ContentBlock, ImageSource};

use crate::state::AppState;

/// One provider's allow-list of cloud file references.
#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    /// For callers of no tenant, and the widest any tenant may have.
    pub all: Vec<String>,
    /// Per tenant id, its narrower list. Not empty: a tenant's callers get the list of the
    /// nearest listed tenant of their family, or none.
    pub tenants: BTreeMap<String, Vec<String>>,
}

impl Prefixes {
    pub fn of(provider: &switchyard_config::ProviderConfig) -> Prefixes {
        Prefixes {
            all: provider.file_uri_prefixes.clone(),
            tenants: provider.tenant_file_uri_prefixes.clone(),
        }
    }

    /// The prefixes a caller in `family` (its tenant, then the ones above it) may pass.
    fn for_family<'a>(&'a self, family: &[String]) -> &'a [String] {
        if self.tenants.is_empty() || family.is_empty() {
            return &self.all;
        }
        family
            .iter()
            .find_map(|tenant| self.tenants.get(tenant))
            .map_or(&[], Vec::as_slice)
    }
}

/// The caller's tenant and the ones above it, nearest first (empty: no tenant).
fn family(state: &AppState, caller: Option<&Caller>) -> Vec<String> {
    let Some(tenant_id) = caller.and_then(|c| c.tenant_id.as_deref()) else {
        return Vec::new();
    };
    let chain = state
        .inner
        .governance
        .as_ref()
        .and_then(|g| g.keys.tenants.chain(Some(tenant_id)));
    match chain {
        Some(chain) => chain.iter().map(|t| t.id.clone()).collect(),
        None => vec![tenant_id.to_owned()],
    }
}

/// Refuses a request that passes a cloud file reference some deployment of its route does
/// not allow-list for its caller; the 400 names where in the request it is.
pub fn check(
    state: &AppState,
    model_index: usize,
    request: &ChatRequest,
    caller: Option<&Caller>,
) -> Result<(), GatewayError> {
    let mut found = Vec::new();
    for (m, message) in request.messages.iter().enumerate() {
        for (c, block) in message.content.iter().enumerate() {
            collect(block, &format!("messages[{m}].content[{c}]"), &mut found);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let inner = &state.inner;
    let Some(route) = inner.routes.models().get(model_index) else {
        return Ok(());
    };
    let family = family(state, caller);
    for (at, uri) in found {
        for deployment in &route.deployments {
            let allowed = inner
                .file_uri_prefixes
                .get(deployment.provider_index)
                .is_some_and(|prefixes| {
                    prefixes
                        .for_family(&family)
                        .iter()
                        .any(|p| uri.starts_with(p.as_str()))
                });
            if !allowed {
                return Err(GatewayError::invalid(
                    format!(
                        "The file reference `{}` at {at} is not allowed: deployment `{}` does not allow-list its prefix for this caller (`file_uri_prefixes`, `tenant_file_uri_prefixes`), and the upstream would read it with the gateway's own credentials.",
                        shown(uri),
                        deployment.id
                    ),
                    Some(at),
                )
                .with_code("file_reference_not_allowed"));
            }
        }
    }
    Ok(())
}

/// The cloud references in one block (and in a tool result's blocks).
fn collect<'r>(block: &'r ContentBlock, at: &str, found: &mut Vec<(String, &'r str)>) {
    match block {
        ContentBlock::Image { source, .. } | ContentBlock::Document { source, .. } => {
            if let ImageSource::FileRef { uri, .. } = source {
                if uri.contains("://") {
                    found.push((at.to_owned(), uri.as_str()));
                }
            }
        }
        ContentBlock::ToolResult { content, .. } => {
            for (i, inner) in content.iter().enumerate() {
                collect(inner, &format!("{at}.content[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// A reference as shown in an error: at most 200 characters.
fn shown(uri: &str) -> String {
    uri.chars().take(200).collect()
}
