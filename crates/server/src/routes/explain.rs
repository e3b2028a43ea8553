//! `GET /v1/route/explain?model=M`: the deployments of a model in the order a request would
//! try them now, and the ones it would skip, each with the reason (capabilities, breaker,
//! cool-down, strategy). Optional query parameters describe the request: `tools`, `vision`,
//! `json_schema`, `reasoning` (`true`/`false`), `prompt_tokens`, `max_output`, and
//! `operation` (`chat`, `count_tokens`, `embeddings`).
//!
//! `GET /v1/route/health`: every distinct deployment's health (breaker, cool-down, in-flight
//! requests, TTFT average, last active check) and the models that route to it.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use switchyard_dialects::{openai, ErrorClass, GatewayError};
use switchyard_providers::Operation;
use switchyard_routing::health::{Admission, BreakerState};
use switchyard_routing::needs::Needs;
use switchyard_routing::Ranked;
use switchyard_types::Usage;

use super::respond;
use crate::errors;
use crate::pipeline::RequestContext;
use crate::state::AppState;

pub async fn explain(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut ctx = RequestContext::start(&state, "openai");
    match body(&state, &headers, &query) {
        Ok(body) => {
            ctx.finish(&state, 200, None, None, Usage::default());
            respond::json(StatusCode::OK, body, &mut ctx, None)
        }
        Err(err) => {
            let status = errors::status(err.class);
            respond::error(&state, &mut ctx, &err, status, openai::encode_error(&err))
        }
    }
}

fn body(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Bytes, GatewayError> {
    let caller = state.inner.auth.check(headers)?;
    let model = query.get("model").ok_or_else(|| {
        GatewayError::invalid(
            "the `model` query parameter is required",
            Some("model".into()),
        )
    })?;
    let inner = &state.inner;
    let index = inner.routes.index_of(model).ok_or_else(|| {
        GatewayError::new(
            ErrorClass::NotFound,
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .with_param("model")
    })?;
    crate::pipeline::may_use(caller.as_deref(), model)?;
    let flag = |name: &str| -> Result<bool, GatewayError> {
        match query.get(name).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(GatewayError::invalid(
                format!("`{name}` must be true or false, not `{other}`"),
                Some(name.to_owned()),
            )),
        }
    };
    let number = |name: &str| -> Result<u32, GatewayError> {
        query.get(name).map_or(Ok(0), |v| {
            v.parse().map_err(|_| {
                GatewayError::invalid(
                    format!("`{name}` must be a whole number"),
                    Some(name.to_owned()),
                )
            })
        })
    };
    let needs = Needs {
        tools: flag("tools")?,
        vision: flag("vision")?,
        json_schema: flag("json_schema")?,
        reasoning: flag("reasoning")?,
        prompt_tokens: number("prompt_tokens")?,
        max_output: number("max_output")?,
        min_tier: 0,
        prompt_tokens_max: 0,
    };
    // The policies the request would be held to: the default, the header's, and any named
    // in the `policy` query parameter.
    let mut named = crate::sovereignty::from_headers(state, headers)?;
    if let Some(list) = query.get("policy") {
        crate::sovereignty::resolve(state, list, "policy", &mut named)?;
    }
    let attached = crate::sovereignty::attached(state, caller.as_deref());
    let policies = crate::sovereignty::policies(state, &attached, &named)?;
    let snapshot = inner.health_snapshot(index);
    let now = inner.now_ms();
    let mut ranking = inner
        .routes
        .rank(index, &needs, &snapshot, now, fastrand::u64(..));
    crate::sovereignty::apply(state, &policies, index, model, &mut ranking);
    crate::pipeline::able(state, operation(query)?, &mut ranking);
    let strategy = inner
        .routes
        .models()
        .get(index)
        .map(|m| m.strategy.name())
        .unwrap_or("priority");
    let entry = |r: &Ranked<'_>, order: Option<usize>| {
        let health = snapshot.get(r.position).copied().unwrap_or_default();
        // Every candidate's policy decision, whether or not something else skipped it.
        let decision = match crate::sovereignty::refusal(state, &policies, index, r.position, model)
        {
            None => json!({"decision": "allowed"}),
            Some((policy, reason)) => {
                json!({"decision": "refused", "policy": policy, "reason": reason})
            }
        };
        json!({
            "deployment": r.deployment.id,
            "provider": r.deployment.provider_id,
            "upstream_model": r.deployment.upstream_model,
            "jurisdiction": r.deployment.jurisdiction.0,
            "operator": r.deployment.operator,
            "hosting": r.deployment.hosting.as_str(),
            "retention": r.deployment.retention.to_string(),
            "policy": decision,
            "position": r.position,
            "admitted": order.is_some(),
            "order": order,
            "reason": r.why.to_string(),
            "in_flight": health.in_flight,
            "ttft_ewma_ms": health.ttft_ewma_ms,
        })
    };
    let mut candidates: Vec<serde_json::Value> = ranking
        .admitted
        .iter()
        .enumerate()
        .map(|(i, r)| entry(r, Some(i)))
        .collect();
    candidates.extend(ranking.skipped.iter().map(|r| entry(r, None)));
    let body = json!({
        "model": model,
        "strategy": strategy,
        "policies": policies.iter().map(|p| json!({"name": p.name, "version": p.version})).collect::<Vec<_>>(),
        "candidates": candidates,
    });
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|e| GatewayError::new(ErrorClass::Internal, e.to_string()))
}

/// The `operation` query parameter: what the request would ask (`chat`, the default,
/// `count_tokens` or `embeddings`), for the providers that cannot do it at all.
fn operation(query: &HashMap<String, String>) -> Result<Operation, GatewayError> {
    match query.get("operation").map(String::as_str) {
        None | Some("chat") => Ok(Operation::Chat),
        Some("count_tokens") => Ok(Operation::CountTokens),
        Some("embeddings") => Ok(Operation::Embed),
        Some(other) => Err(GatewayError::invalid(
            format!("`operation` must be chat, count_tokens or embeddings, not `{other}`"),
            Some("operation".to_owned()),
        )),
    }
}

pub async fn health(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut ctx = RequestContext::start(&state, "openai");
    let body = state.inner.auth.check(&headers).and_then(|_| {
        serde_json::to_vec(&health_body(&state))
            .map(Bytes::from)
            .map_err(|e| GatewayError::new(ErrorClass::Internal, e.to_string()))
    });
    match body {
        Ok(body) => {
            ctx.finish(&state, 200, None, None, Usage::default());
            respond::json(StatusCode::OK, body, &mut ctx, None)
        }
        Err(err) => {
            let status = errors::status(err.class);
            respond::error(&state, &mut ctx, &err, status, openai::encode_error(&err))
        }
    }
}

fn health_body(state: &AppState) -> serde_json::Value {
    let inner = &state.inner;
    let now = inner.now_ms();
    let seconds = |ms: u64| ms as f64 / 1000.0;
    let deployments: Vec<serde_json::Value> = inner
        .health_deployments
        .iter()
        .enumerate()
        .map(|(slot, d)| {
            let h = inner.health_of(slot);
            let models: Vec<&str> = inner
                .routes
                .models()
                .iter()
                .zip(&inner.health_slots)
                .filter(|(_, slots)| slots.contains(&slot))
                .map(|(m, _)| m.name.as_str())
                .collect();
            let (status, until) = match h.admission(now) {
                Admission::Yes => ("healthy", None),
                Admission::Probe => ("probe_due", None),
                Admission::Ejected { until_ms } => ("ejected", Some(until_ms)),
                Admission::ProbeInFlight => ("half_open", None),
                Admission::CoolingDown { until_ms } => ("cooling_down", Some(until_ms)),
            };
            let failures = match h.breaker {
                BreakerState::Closed { failures } => failures,
                _ => inner.breaker.failures_to_open,
            };
            json!({
                "deployment": d.id,
                "provider": d.provider_id,
                "upstream_model": d.upstream_model,
                "jurisdiction": d.jurisdiction.0,
                "models": models,
                "status": status,
                "retry_in_s": until.map(|u| seconds(u.saturating_sub(now))),
                "consecutive_failures": failures,
                "in_flight": h.in_flight,
                "ttft_ewma_ms": h.ttft_ewma_ms,
                "last_check": h.last_check.map(|(at, ok)| json!({
                    "ok": ok,
                    "seconds_ago": seconds(now.saturating_sub(at)),
                })),
            })
        })
        .collect();
    json!({
        "active_checks_interval_s": inner.health_check.map(|d| d.as_secs_f64()),
        "deployments": deployments,
    })
}
