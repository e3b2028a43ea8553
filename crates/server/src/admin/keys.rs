//! `GET/POST /admin/keys`, `GET/DELETE /admin/keys/{id}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_governance::issue::{issue, KeySpec};
use switchyard_governance::report::dollars;
use switchyard_store::keys::KeyRow;

use super::{error, AdminState, Role};

/// A key as the admin API shows it: never the secret or its hash.
pub fn view(k: &KeyRow, now_ms: i64) -> Value {
    let status = if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|at| at <= now_ms) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "status": status,
        "tenant_id": k.tenant_id,
        "created_at_ms": k.created_at,
        "expires_at_ms": k.expires_at,
        "revoked_at_ms": k.revoked_at,
        "models": k.allowed_models,
        "metadata": k.metadata.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "budget_usd": k.budget_nano_usd.map(dollars),
        "budget_period": k.budget_period,
        "rpm": k.rpm,
        "tpm": k.tpm,
    })
}

pub async fn list(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if let Err(refused) = state.role(&headers, Role::Viewer) {
        return refused.into_response();
    }
    match state.governance.store.list_keys().await {
        Ok(rows) => {
            let now = switchyard_store::now_ms();
            Json(json!({"data": rows.iter().map(|k| view(k, now)).collect::<Vec<_>>()}))
                .into_response()
        }
        Err(e) => store_error(&e),
    }
}

pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = state.role(&headers, Role::Viewer) {
        return refused.into_response();
    }
    match state.governance.store.keys_named(&id).await {
        Ok(rows) => match rows.iter().find(|k| k.id == id) {
            Some(k) => Json(view(k, switchyard_store::now_ms())).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "No key with this id.",
            ),
        },
        Err(e) => store_error(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default)]
    models: Vec<String>,
    expires_in_days: Option<f64>,
    metadata: Option<Value>,
    budget_usd: Option<f64>,
    budget_period: Option<String>,
    rpm: Option<u32>,
    tpm: Option<u32>,
}

pub async fn create(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<CreateKey>, JsonRejection>,
) -> Response {
    if let Err(refused) = state.role(&headers, Role::Admin) {
        return refused.into_response();
    }
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &rejection.body_text(),
            )
        }
    };
    let Some(pepper) = state.governance.keys.pepper() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "SWITCHYARD_KEY_PEPPER is not set on this server: it cannot make keys.",
        );
    };
    let spec = KeySpec {
        name: body.name,
        models: body.models,
        expires_in_days: body.expires_in_days,
        metadata: body.metadata.map(|m| m.to_string()),
        budget_usd: body.budget_usd,
        budget_period: body.budget_period,
        rpm: body.rpm,
        tpm: body.tpm,
        tenant_id: None,
    };
    let now = switchyard_store::now_ms();
    let (row, secret) = match issue(pepper, &spec, now) {
        Ok(made) => made,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &e.to_string(),
            )
        }
    };
    if let Err(e) = state.governance.store.insert_key(&row).await {
        return store_error(&e);
    }
    // This server knows at once; the others at their next look at the store.
    state.governance.keys.apply(std::slice::from_ref(&row));
    tracing::info!(target: "switchyard::admin", key_id = %row.id, name = %row.name, "key created");
    let mut shown = view(&row, now);
    shown["key"] = json!(secret.expose());
    (StatusCode::CREATED, Json(shown)).into_response()
}

pub async fn revoke(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = state.role(&headers, Role::Admin) {
        return refused.into_response();
    }
    let store = &state.governance.store;
    match store.revoke_key(&id).await {
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "No key with this id.",
        ),
        Ok(true) => match store.keys_named(&id).await {
            Ok(changed) => {
                state.governance.keys.apply(&changed);
                tracing::info!(target: "switchyard::admin", key_id = %id, "key revoked");
                let now = switchyard_store::now_ms();
                match changed.first() {
                    Some(k) => Json(view(k, now)).into_response(),
                    None => error(
                        StatusCode::NOT_FOUND,
                        "not_found_error",
                        "No key with this id.",
                    ),
                }
            }
            Err(e) => store_error(&e),
        },
        Err(e) => store_error(&e),
    }
}

pub(super) fn store_error(e: &switchyard_store::StoreError) -> Response {
    tracing::error!(target: "switchyard::admin", error = %e, "store call failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        "The store did not answer; try again.",
    )
}
