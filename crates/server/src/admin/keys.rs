//! `GET/POST /admin/keys`, `GET/PATCH/DELETE /admin/keys/{id}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchyard_governance::issue::{issue, KeySpec};
use switchyard_governance::patch::patch_key;
use switchyard_governance::report::dollars;
use switchyard_store::keys::KeyRow;

use super::{bad_request, error, not_found_one, AdminState, Principal, Refusal};

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
        "model_limits": k.model_limits.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "policies": k.policies,
    })
}

pub async fn list(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let principal = match state.principal(&headers, false).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    match state.governance.store.list_keys().await {
        Ok(rows) => {
            let now = switchyard_store::now_ms();
            let shown: Vec<Value> = rows
                .iter()
                .filter(|k| principal.sees(&state.governance, k.tenant_id.as_deref()))
                .map(|k| view(k, now))
                .collect();
            Json(json!({ "data": shown })).into_response()
        }
        Err(e) => store_error(&e),
    }
}

/// The key with this id, if the caller may see it.
async fn visible(state: &AdminState, principal: &Principal, id: &str) -> Result<KeyRow, Response> {
    match state.governance.store.keys_named(id).await {
        Ok(rows) => rows
            .into_iter()
            .find(|k| k.id == id && principal.sees(&state.governance, k.tenant_id.as_deref()))
            .ok_or_else(|| not_found_one("key")),
        Err(e) => Err(store_error(&e)),
    }
}

pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match state.principal(&headers, false).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    match visible(&state, &principal, &id).await {
        Ok(k) => Json(view(&k, switchyard_store::now_ms())).into_response(),
        Err(response) => response,
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
    tenant_id: Option<String>,
    model_limits: Option<Value>,
    #[serde(default)]
    policies: Vec<String>,
}

/// Whether `tenant_id` may hold a key made or moved by `principal`: it must exist, be
/// enabled, and be within a tenant admin's tenant. `Err` is the answer to send.
fn check_tenant(
    state: &AdminState,
    principal: &Principal,
    tenant_id: Option<&str>,
) -> Result<(), Refusal> {
    let Some(id) = tenant_id else {
        return match principal {
            Principal::TenantAdmin { .. } => Err(Refusal(
                StatusCode::FORBIDDEN,
                "permission_error",
                "A tenant admin's keys belong to its tenant.",
            )),
            _ => Ok(()),
        };
    };
    if !principal.sees(&state.governance, Some(id)) {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "permission_error",
            "This tenant is not yours to manage.",
        ));
    }
    if !state.governance.keys.tenants.live(Some(id)) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`tenant_id`: no such tenant, or it is disabled",
        ));
    }
    Ok(())
}

pub async fn create(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<CreateKey>, JsonRejection>,
) -> Response {
    let principal = match state.principal(&headers, true).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    let Some(pepper) = state.governance.keys.pepper() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "SWITCHYARD_KEY_PEPPER is not set on this server: it cannot make keys.",
        );
    };
    // A tenant admin's keys go to its own tenant unless it names one of its teams.
    let tenant_id = match (&body.tenant_id, &principal) {
        (None, Principal::TenantAdmin { tenant_id }) => Some(tenant_id.clone()),
        (given, _) => given.clone(),
    };
    if let Err(refused) = check_tenant(&state, &principal, tenant_id.as_deref()) {
        return refused.into_response();
    }
    let spec = KeySpec {
        name: body.name,
        models: body.models,
        expires_in_days: body.expires_in_days,
        metadata: body.metadata.map(|m| m.to_string()),
        budget_usd: body.budget_usd,
        budget_period: body.budget_period,
        rpm: body.rpm,
        tpm: body.tpm,
        tenant_id,
        model_limits: body.model_limits.map(|m| m.to_string()),
        policies: body.policies,
    };
    let now = switchyard_store::now_ms();
    let (row, secret) = match issue(pepper, &spec, now) {
        Ok(made) => made,
        Err(e) => return bad_request(&e.to_string()),
    };
    if let Err(e) = state.governance.store.insert_key(&row).await {
        return store_error(&e);
    }
    // This server knows at once; the others at their next look at the store.
    state.governance.keys.apply(std::slice::from_ref(&row));
    tracing::info!(target: "switchyard::admin", key_id = %row.id, name = %row.name, tenant_id = ?row.tenant_id, "key created");
    let mut shown = view(&row, now);
    shown["key"] = json!(secret.expose());
    (StatusCode::CREATED, Json(shown)).into_response()
}

/// `PATCH /admin/keys/{id}`: fields present are set, `null` clears (see
/// [`switchyard_governance::patch`]).
pub async fn update(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Response {
    let principal = match state.principal(&headers, true).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let Json(patch) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    let mut row = match visible(&state, &principal, &id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    if row.revoked_at.is_some() {
        return error(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "This key is revoked.",
        );
    }
    let before = row.tenant_id.clone();
    if let Err(e) = patch_key(&mut row, &patch, switchyard_store::now_ms()) {
        return bad_request(&e.to_string());
    }
    if row.tenant_id != before {
        if let Err(refused) = check_tenant(&state, &principal, row.tenant_id.as_deref()) {
            return refused.into_response();
        }
    }
    write_back(&state, &row, "key updated").await
}

/// Stores a changed key, tells this server's cache, and answers with the stored row.
async fn write_back(state: &AdminState, row: &KeyRow, what: &'static str) -> Response {
    let store = &state.governance.store;
    match store.update_key(row).await {
        Ok(true) => {}
        Ok(false) => return not_found_one("key"),
        Err(e) => return store_error(&e),
    }
    match store.keys_named(&row.id).await {
        Ok(changed) => {
            state.governance.keys.apply(&changed);
            tracing::info!(target: "switchyard::admin", key_id = %row.id, "{what}");
            match changed.iter().find(|k| k.id == row.id) {
                Some(k) => Json(view(k, switchyard_store::now_ms())).into_response(),
                None => not_found_one("key"),
            }
        }
        Err(e) => store_error(&e),
    }
}

pub async fn revoke(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match state.principal(&headers, true).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    // By id or, for the admin, by display prefix; a tenant admin only its own keys.
    let store = &state.governance.store;
    let targets = match store.keys_named(&id).await {
        Ok(rows) => rows,
        Err(e) => return store_error(&e),
    };
    if targets.is_empty()
        || !targets
            .iter()
            .all(|k| principal.sees(&state.governance, k.tenant_id.as_deref()))
    {
        return not_found_one("key");
    }
    match store.revoke_key(&id).await {
        Ok(false) => not_found_one("key"),
        Ok(true) => match store.keys_named(&id).await {
            Ok(changed) => {
                state.governance.keys.apply(&changed);
                tracing::info!(target: "switchyard::admin", key_id = %id, "key revoked");
                let now = switchyard_store::now_ms();
                match changed.first() {
                    Some(k) => Json(view(k, now)).into_response(),
                    None => not_found_one("key"),
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
