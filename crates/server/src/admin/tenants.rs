//! `GET/POST /admin/tenants`, `GET/PATCH/DELETE /admin/tenants/{id}` (delete disables: the
//! tenant's keys and its teams' keys stop working on every replica within seconds, and rows
//! stay so the ledger keeps resolving), `GET/POST /admin/tenants/{id}/tokens` and
//! `DELETE /admin/tokens/{id}` (tenant admin tokens, admin only).
//!
//! An organisation has no parent; a team's parent is an organisation. A tenant admin sees its
//! tenant and the teams under it, may create, change and disable those teams, but not its own
//! tenant (its limits are the admin's to set).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::limits::Period;
use switchyard_governance::patch::{check_parent, new_tenant, patch_tenant};
use switchyard_governance::report::dollars;
use switchyard_store::admin_tokens::AdminTokenRow;
use switchyard_store::ledger::LedgerFilter;
use switchyard_store::tenants::TenantRow;

use super::keys::store_error;
use super::{bad_request, error, forbidden, not_found_one, AdminState, Principal, Refusal};

pub fn view(t: &TenantRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "kind": if t.parent_id.is_some() { "team" } else { "organisation" },
        "parent_id": t.parent_id,
        "status": if t.disabled_at.is_some() { "disabled" } else { "active" },
        "created_at_ms": t.created_at,
        "disabled_at_ms": t.disabled_at,
        "budget_usd": t.budget_nano_usd.map(dollars),
        "budget_period": t.budget_period,
        "rpm": t.rpm,
        "tpm": t.tpm,
        "model_limits": t.model_limits.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "metadata": t.metadata.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "policies": t.policies,
    })
}

pub async fn list(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let principal = match state.principal(&headers, false).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    match state.governance.store.list_tenants().await {
        Ok(rows) => {
            let shown: Vec<Value> = rows
                .iter()
                .filter(|t| principal.sees(&state.governance, Some(&t.id)))
                .map(view)
                .collect();
            Json(json!({ "data": shown })).into_response()
        }
        Err(e) => store_error(&e),
    }
}

/// The tenant with this id, if the caller may see it.
async fn visible(
    state: &AdminState,
    principal: &Principal,
    id: &str,
) -> Result<TenantRow, Response> {
    match state.governance.store.tenant(id).await {
        Ok(Some(t)) if principal.sees(&state.governance, Some(&t.id)) => Ok(t),
        Ok(_) => Err(not_found_one("tenant")),
        Err(e) => Err(store_error(&e)),
    }
}

/// Whether `principal` may change `tenant`: the admin any; a tenant admin only the teams
/// under its own tenant.
fn may_change(principal: &Principal, tenant: &TenantRow) -> Result<(), Refusal> {
    match principal {
        Principal::TenantAdmin { tenant_id } if tenant.id == *tenant_id => Err(Refusal(
            StatusCode::FORBIDDEN,
            "permission_error",
            "A tenant admin cannot change its own tenant; ask an admin.",
        )),
        _ => Ok(()),
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
    let tenant = match visible(&state, &principal, &id).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let mut shown = view(&tenant);
    // What the tenant and its teams spent in the budget's current period.
    let now = switchyard_store::now_ms();
    let period = tenant
        .budget_period
        .as_deref()
        .and_then(Period::parse)
        .unwrap_or(Period::Monthly);
    let filter = LedgerFilter {
        from: (period != Period::Total).then(|| period.start_ms(now)),
        tenant_in: state.governance.keys.tenants.family(&tenant.id),
        ..LedgerFilter::default()
    };
    match state.governance.store.usage_totals(&filter).await {
        Ok(totals) => {
            shown["spend"] = json!({
                "period": period.as_str(),
                "cost_usd": dollars(totals.cost_nano_usd),
                "requests": totals.requests,
            });
            Json(shown).into_response()
        }
        Err(e) => store_error(&e),
    }
}

pub async fn create(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Response {
    let principal = match state.principal(&headers, true).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let Json(mut body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    if let Principal::TenantAdmin { tenant_id } = &principal {
        // A tenant admin makes teams under its own organisation.
        match body.get("parent_id") {
            None | Some(Value::Null) => {
                body.insert("parent_id".into(), json!(tenant_id));
            }
            Some(given) if given.as_str() == Some(tenant_id) => {}
            Some(_) => return forbidden("A tenant admin makes teams under its own tenant only."),
        }
    }
    let now = switchyard_store::now_ms();
    let row = match new_tenant(&body, now) {
        Ok(row) => row,
        Err(e) => return bad_request(&e.to_string()),
    };
    match check_parent(&state.governance.store, &row).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return bad_request(&e.to_string()),
        Err(e) => return store_error(&e),
    }
    let store = &state.governance.store;
    if let Err(e) = store.insert_tenant(&row).await {
        return store_error(&e);
    }
    state
        .governance
        .keys
        .tenants
        .apply(std::slice::from_ref(&row));
    tracing::info!(target: "switchyard::admin", tenant_id = %row.id, name = %row.name, parent_id = ?row.parent_id, "tenant created");
    (StatusCode::CREATED, Json(view(&row))).into_response()
}

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
        Ok(t) => t,
        Err(response) => return response,
    };
    if let Err(refused) = may_change(&principal, &row) {
        return refused.into_response();
    }
    if let Err(e) = patch_tenant(&mut row, &patch) {
        return bad_request(&e.to_string());
    }
    let store = &state.governance.store;
    match store.update_tenant(&row).await {
        Ok(true) => {}
        Ok(false) => return not_found_one("tenant"),
        Err(e) => return store_error(&e),
    }
    reread(&state, &id, "tenant updated").await
}

/// `DELETE /admin/tenants/{id}`: disables the tenant (and so its teams and every key under
/// them).
pub async fn disable(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match state.principal(&headers, true).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let row = match visible(&state, &principal, &id).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    if let Err(refused) = may_change(&principal, &row) {
        return refused.into_response();
    }
    match state.governance.store.disable_tenant(&id).await {
        Ok(true) => reread(&state, &id, "tenant disabled").await,
        Ok(false) => not_found_one("tenant"),
        Err(e) => store_error(&e),
    }
}

/// Reads a changed tenant back, tells this server's cache, answers with it.
async fn reread(state: &AdminState, id: &str, what: &'static str) -> Response {
    match state.governance.store.tenant(id).await {
        Ok(Some(row)) => {
            state
                .governance
                .keys
                .tenants
                .apply(std::slice::from_ref(&row));
            tracing::info!(target: "switchyard::admin", tenant_id = %id, "{what}");
            Json(view(&row)).into_response()
        }
        Ok(None) => not_found_one("tenant"),
        Err(e) => store_error(&e),
    }
}

fn token_view(t: &AdminTokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "tenant_id": t.tenant_id,
        "role": t.role,
        "status": if t.revoked_at.is_some() { "revoked" } else { "active" },
        "created_at_ms": t.created_at,
        "revoked_at_ms": t.revoked_at,
    })
}

/// Only the admin manages tenant admin tokens.
async fn admin_only(state: &AdminState, headers: &HeaderMap, write: bool) -> Result<(), Response> {
    match state.principal(headers, write).await {
        Ok(Principal::Admin) => Ok(()),
        Ok(Principal::Viewer) if !write => Ok(()),
        Ok(_) => Err(forbidden("Only an admin manages tenant admin tokens.")),
        Err(refused) => Err(refused.into_response()),
    }
}

pub async fn tokens(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admin_only(&state, &headers, false).await {
        return response;
    }
    match state.governance.store.admin_tokens_of(&id).await {
        Ok(rows) => {
            Json(json!({"data": rows.iter().map(token_view).collect::<Vec<_>>()})).into_response()
        }
        Err(e) => store_error(&e),
    }
}

/// `POST /admin/tenants/{id}/tokens` `{"name"}`: a `tenant-admin` token for the tenant,
/// shown once.
pub async fn create_token(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Response {
    if let Err(response) = admin_only(&state, &headers, true).await {
        return response;
    }
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    if let Some(field) = body.keys().find(|k| *k != "name") {
        return bad_request(&format!("body: unknown field `{field}`"));
    }
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("tenant admin");
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return bad_request("name: must be 1-200 printable characters");
    }
    let Some(pepper) = state.governance.keys.pepper() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "SWITCHYARD_KEY_PEPPER is not set on this server: it cannot make tokens.",
        );
    };
    match state.governance.store.tenant(&id).await {
        Ok(Some(t)) if t.disabled_at.is_none() => {}
        Ok(_) => return not_found_one("enabled tenant"),
        Err(e) => return store_error(&e),
    }
    let made = KeySecret::generate_admin().and_then(|secret| Ok((secret, keys::new_id("tok")?)));
    let Ok((secret, token_id)) = made else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "The system's random source failed.",
        );
    };
    let row = AdminTokenRow {
        id: token_id,
        name: name.to_owned(),
        prefix: secret.display_prefix().to_owned(),
        hash: keys::to_hex(&pepper.hash(secret.expose())),
        tenant_id: id,
        role: "tenant-admin".into(),
        created_at: switchyard_store::now_ms(),
        revoked_at: None,
    };
    if let Err(e) = state.governance.store.insert_admin_token(&row).await {
        return store_error(&e);
    }
    tracing::info!(target: "switchyard::admin", token_id = %row.id, tenant_id = %row.tenant_id, "tenant admin token created");
    let mut shown = token_view(&row);
    shown["token"] = json!(secret.expose());
    (StatusCode::CREATED, Json(shown)).into_response()
}

pub async fn revoke_token(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admin_only(&state, &headers, true).await {
        return response;
    }
    match state.governance.store.revoke_admin_token(&id).await {
        Ok(true) => {
            tracing::info!(target: "switchyard::admin", token_id = %id, "tenant admin token revoked");
            Json(json!({"id": id, "status": "revoked"})).into_response()
        }
        Ok(false) => not_found_one("token"),
        Err(e) => store_error(&e),
    }
}
