//! Operations endpoints: `/metrics`, `/healthz`, `/readyz`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::StatusCode;

use switchyard_routing::health::Admission;

use crate::metrics::escape;
use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.inner.metrics.render();
    text.push_str(&health(&state));
    text.push_str(&state.inner.exporters.render());
    if let Some(cache) = &state.inner.cache {
        let (entries, bytes) = cache.size();
        text.push_str(&format!(
            "# HELP switchyard_cache_lookups_total Response cache lookups by outcome.\n# TYPE switchyard_cache_lookups_total counter\nswitchyard_cache_lookups_total{{outcome=\"hit\"}} {}\nswitchyard_cache_lookups_total{{outcome=\"miss\"}} {}\n# HELP switchyard_cache_entries Answers kept.\n# TYPE switchyard_cache_entries gauge\nswitchyard_cache_entries {entries}\n# HELP switchyard_cache_bytes Bytes of answers kept.\n# TYPE switchyard_cache_bytes gauge\nswitchyard_cache_bytes {bytes}\n",
            cache.hits.load(Ordering::Relaxed),
            cache.misses.load(Ordering::Relaxed),
        ));
    }
    if let Some(governance) = &state.inner.governance {
        text.push_str(&format!(
            "# HELP switchyard_governance_fallback_total Times Redis-shared limits could not be reached and this replica's share decided.\n# TYPE switchyard_governance_fallback_total counter\nswitchyard_governance_fallback_total {}\n",
            governance.fallbacks.load(Ordering::Relaxed)
                + governance.budgets.fallbacks.load(Ordering::Relaxed)
        ));
        let audit = &governance.audit;
        text.push_str(&format!(
            "# HELP switchyard_audit_records_pending Audit records queued and not yet written.
# TYPE switchyard_audit_records_pending gauge
switchyard_audit_records_pending {}
# HELP switchyard_audit_records_dropped_total Audit records dropped because the queue was full (audit.when_full = serve).
# TYPE switchyard_audit_records_dropped_total counter
switchyard_audit_records_dropped_total {}
# HELP switchyard_admin_refused_total Admin API calls refused for a missing or wrong token (recorded in no audit record).
# TYPE switchyard_admin_refused_total counter
switchyard_admin_refused_total {}
",
            audit.pending(),
            audit.dropped(),
            crate::audit::refused_admin_calls(),
        ));
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Each deployment's routing health: breaker state, requests in flight, TTFT average, the
/// last active check. One series per distinct deployment (shared by the models routing to it).
fn health(state: &AppState) -> String {
    let inner = &state.inner;
    let now = inner.now_ms();
    let mut states = String::from("# HELP switchyard_deployment_state Routing state per deployment: 0 taking traffic, 1 ejected by its circuit breaker, 2 half-open (probe), 3 cooling down after an upstream 429.\n# TYPE switchyard_deployment_state gauge\n");
    let mut busy = String::from("# HELP switchyard_deployment_in_flight Requests in flight per deployment.\n# TYPE switchyard_deployment_in_flight gauge\n");
    let mut ttft = String::from("# HELP switchyard_deployment_ttft_seconds Moving average of time to first token (whole answer when not streamed) per deployment.\n# TYPE switchyard_deployment_ttft_seconds gauge\n");
    let mut checks = String::from("# HELP switchyard_deployment_check_ok Whether the last active health check got an answer (1) or failed (0).\n# TYPE switchyard_deployment_check_ok gauge\n");
    for (slot, deployment) in inner.health_deployments.iter().enumerate() {
        let h = inner.health_of(slot);
        let labels = format!(
            "deployment=\"{}\",provider=\"{}\"",
            escape(&deployment.id),
            escape(&deployment.provider_id)
        );
        states.push_str(&format!(
            "switchyard_deployment_state{{{labels}}} {}\n",
            state_code(h.admission(now))
        ));
        busy.push_str(&format!(
            "switchyard_deployment_in_flight{{{labels}}} {}\n",
            h.in_flight
        ));
        if let Some(ms) = h.ttft_ewma_ms {
            ttft.push_str(&format!(
                "switchyard_deployment_ttft_seconds{{{labels}}} {:.4}\n",
                ms / 1000.0
            ));
        }
        if let Some((_, ok)) = h.last_check {
            checks.push_str(&format!(
                "switchyard_deployment_check_ok{{{labels}}} {}\n",
                u8::from(ok)
            ));
        }
    }
    states + &busy + &ttft + &checks
}

fn state_code(admission: Admission) -> u8 {
    match admission {
        Admission::Yes | Admission::Probe => 0,
        Admission::Ejected { .. } => 1,
        Admission::ProbeInFlight => 2,
        Admission::CoolingDown { .. } => 3,
    }
}

/// Alive: the process answers.
pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// Ready for traffic: not draining for shutdown.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}
