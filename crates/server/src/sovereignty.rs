//! Sovereignty on the request path: the policies a request is held to (the config's default
//! policy and those its `x-switchyard-policy` header names; each can only narrow where data
//! goes), and the filter that takes every deployment they refuse out of the ranking before
//! the first attempt. Retries and fallbacks walk only what is left, so they obey the same
//! policies; with nothing left the request fails closed with a 403 that names the policy.

use http::HeaderMap;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_policy::{first_refusal, Policy};
use switchyard_routing::{Ranking, Why};

use crate::state::AppState;

/// The request header naming policies (comma-separated) on top of the others.
pub const HEADER: &str = "x-switchyard-policy";

/// The configured policies the request's header names, as indexes into the state's list;
/// an unknown or malformed name is a 400 (never silently ignored).
pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Vec<usize>, GatewayError> {
    let mut named = Vec::new();
    for value in headers.get_all(HEADER) {
        let text = value.to_str().map_err(|_| {
            GatewayError::invalid(format!("the `{HEADER}` header must be policy names"), None)
        })?;
        resolve(state, text, HEADER, &mut named)?;
    }
    Ok(named)
}

/// Adds the policies a comma-separated `text` names (from `source`, for messages) to `named`.
pub fn resolve(
    state: &AppState,
    text: &str,
    source: &str,
    named: &mut Vec<usize>,
) -> Result<(), GatewayError> {
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(index) = state.inner.policies.iter().position(|p| p.name == name) else {
            let mut known: Vec<&str> = state
                .inner
                .policies
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            known.sort_unstable();
            let shown: String = name.chars().take(64).collect();
            return Err(GatewayError::invalid(
                format!(
                    "`{source}` names no configured policy `{shown}` (configured: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
                None,
            ));
        };
        if !named.contains(&index) {
            named.push(index);
        }
    }
    Ok(())
}

/// Every policy a request is held to: the default, those `attached` to its key and the
/// tenants above it, then those its header `named`. A policy attached in the store but not
/// in the config fails the request closed (403).
pub fn policies<'s>(
    state: &'s AppState,
    attached: &[String],
    named: &[usize],
) -> Result<Vec<&'s Policy>, GatewayError> {
    let inner = &state.inner;
    let mut out: Vec<&Policy> = Vec::with_capacity(1 + attached.len() + named.len());
    let mut add = |p: &'s Policy| {
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p);
        }
    };
    if let Some(p) = inner.default_policy.and_then(|i| inner.policies.get(i)) {
        add(p);
    }
    for name in attached {
        match inner.policies.iter().find(|p| p.name == *name) {
            Some(p) => add(p),
            None => {
                return Err(GatewayError::new(
                    ErrorClass::PermissionDenied,
                    format!("The policy `{name}` attached to this key or its tenant is not configured on this server; nothing is sent anywhere until it is."),
                )
                .with_code("policy_denied"))
            }
        }
    }
    for p in named.iter().filter_map(|&i| inner.policies.get(i)) {
        add(p);
    }
    Ok(out)
}

/// The policy names attached to the caller's key and the tenants above it.
pub fn attached(state: &AppState, caller: Option<&switchyard_governance::Caller>) -> Vec<String> {
    match (&state.inner.governance, caller) {
        (Some(governance), Some(caller)) => governance.keys.tenants.policies(caller),
        _ => Vec::new(),
    }
}

/// The first of `policies` that refuses the deployment at `position` of model
/// `model_index`, with why: the one answer to "may this request use this deployment". A
/// deployment whose tags are unknown is refused by the first policy (fail closed); with no
/// policies every deployment is allowed.
pub fn refusal(
    state: &AppState,
    policies: &[&Policy],
    model_index: usize,
    position: usize,
    model: &str,
) -> Option<(String, String)> {
    if policies.is_empty() {
        return None;
    }
    match state
        .inner
        .tags
        .get(model_index)
        .and_then(|t| t.get(position))
    {
        Some(tags) => first_refusal(policies, model, tags).map(|(p, why)| (p.name.clone(), why)),
        None => policies
            .first()
            .map(|p| (p.name.clone(), "no tags known".to_owned())),
    }
}

/// Moves every admitted deployment a policy refuses to the skipped ones, with the reason;
/// a deployment skipped for its health that a policy refuses is marked refused too (it would
/// not be allowed even when healthy, so the answer is the policy's 403, not a 503).
pub fn apply(
    state: &AppState,
    policies: &[&Policy],
    model_index: usize,
    model: &str,
    ranking: &mut Ranking<'_>,
) {
    if policies.is_empty() {
        return;
    }
    ranking.skip_where(|r| {
        refusal(state, policies, model_index, r.position, model)
            .map(|(policy, reason)| Why::Refused { policy, reason })
    });
}

/// The 403 for a request whose policies leave no deployment that could take it: it names
/// the policies and why each deployment was refused. (When a deployment the policies allow
/// is only down or cooling, the answer is the usual 503/429, whose message lists the
/// refusals too.)
pub fn refused(model: &str, ranking: &Ranking<'_>) -> Option<GatewayError> {
    let waiting = ranking.skipped.iter().any(|r| {
        !matches!(
            r.why,
            Why::Refused { .. } | Why::Incapable(_) | Why::Unable(_)
        )
    });
    if !ranking.admitted.is_empty() || waiting {
        return None;
    }
    let refusals: Vec<String> = ranking
        .skipped
        .iter()
        .filter_map(|r| match &r.why {
            Why::Refused { policy, reason } => Some(format!(
                "{} refused by `{policy}`: {reason}",
                r.deployment.id
            )),
            _ => None,
        })
        .collect();
    if refusals.is_empty() {
        return None;
    }
    Some(
        GatewayError::new(
            ErrorClass::PermissionDenied,
            format!(
                "No deployment of `{model}` is allowed by this request's policies ({}).",
                refusals.join("; ")
            ),
        )
        .with_code("policy_denied"),
    )
}
