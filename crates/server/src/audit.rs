//! Audit records for what is not a request: admin actions (who, what, on which resource,
//! with what outcome) and config loads and reloads (the file's hash). Metadata only: never a
//! secret, a body or a prompt. Requests' records are their receipts (`receipt.rs`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_governance::Governance;
use switchyard_store::audit::hex;

use crate::admin::{AdminState, Principal};

/// Queues one record (`kind`, about `ref_id`).
pub fn record(governance: &Governance, kind: &str, ref_id: &str, value: Value) {
    let at = switchyard_store::now_ms();
    let mut value = value;
    if let Value::Object(map) = &mut value {
        map.insert("kind".into(), kind.into());
        map.insert("at".into(), at.into());
    }
    governance
        .audit
        .record(at, kind, ref_id, |_| value.to_string());
}

/// A config loaded at start or on reload: `action` and the SHA-256 of the file (`None`: the
/// built-in default).
pub fn config_loaded(governance: &Governance, action: &str, file: Option<&[u8]>, offline: bool) {
    let digest = file.map(|bytes| hex(&Sha256::digest(bytes)));
    record(
        governance,
        "config",
        action,
        json!({"action": action, "config_sha256": digest, "offline": offline}),
    );
}

fn actor(principal: &Principal) -> String {
    match principal {
        Principal::Admin => "admin".to_owned(),
        Principal::Viewer => "viewer".to_owned(),
        Principal::TenantAdmin { tenant_id } => format!("tenant-admin:{tenant_id}"),
    }
}

/// Admin calls refused for a missing or wrong token (a known token's refused call, say a
/// viewer's attempt to write, is recorded: its caller is known and few).
static REFUSED_ADMIN_CALLS: AtomicU64 = AtomicU64::new(0);

/// Admin calls refused so far (the metric `switchyard_admin_refused_total`).
pub fn refused_admin_calls() -> u64 {
    REFUSED_ADMIN_CALLS.load(Ordering::Relaxed)
}

/// Largest admin answer read for the id of what it made.
const ANSWER_LIMIT: usize = 256 * 1024;

/// Middleware: every admin call that changes something (any method but GET and HEAD) is
/// recorded with its caller, method, path, status and, for a creation, the new resource's id.
pub async fn admin_calls(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if method == Method::GET || method == Method::HEAD {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let who = match state.principal_of(request.headers()).await {
        Some(p) => actor(&p),
        // Refused before it could change anything: counted, never recorded one by one (an
        // unauthenticated caller could otherwise fill the log with paths of its choosing).
        None => {
            REFUSED_ADMIN_CALLS.fetch_add(1, Ordering::Relaxed);
            return next.run(request).await;
        }
    };
    let response = next.run(request).await;
    let status = response.status();
    let (response, created) = if method == Method::POST && status.is_success() {
        created_id(response).await
    } else {
        (response, None)
    };
    let action = format!("{method} {path}");
    record(
        state.governance(),
        "admin",
        created.as_deref().unwrap_or(&path),
        json!({"actor": who, "action": action, "status": status.as_u16(), "created": created}),
    );
    response
}

/// The `id` of the resource a creation answered with (the body is put back unchanged).
async fn created_id(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, ANSWER_LIMIT).await {
        Ok(bytes) => {
            let id = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
            (Response::from_parts(parts, Body::from(bytes)), id)
        }
        Err(_) => (Response::from_parts(parts, Body::empty()), None),
    }
}
