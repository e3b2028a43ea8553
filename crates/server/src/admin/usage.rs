//! `GET /admin/usage`: totals and rows of the usage ledger, filtered by `key_id`,
//! `tenant_id` (an organisation's usage includes its teams'), `model`, `from` / `to` (Unix
//! ms); `format=csv` for every row as CSV. A tenant admin sees its own tenant's rows only.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use switchyard_governance::report::{self, dollars};
use switchyard_store::ledger::LedgerFilter;

use super::keys::store_error;
use super::{error, not_found_one, AdminState, Principal};

/// Rows in a JSON answer at most (CSV has no cap).
const JSON_ROWS: i64 = 1_000;

pub async fn report(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let principal = match state.principal(&headers, false).await {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let number = |name: &str| -> Result<Option<i64>, String> {
        query.get(name).map_or(Ok(None), |v| {
            v.parse()
                .map(Some)
                .map_err(|_| format!("`{name}` must be a Unix time in milliseconds"))
        })
    };
    let (from, to) = match (number("from"), number("to")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => {
            return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e)
        }
    };
    // A tenant's usage covers its teams; a tenant admin sees its own tenant's at most.
    let tenants = &state.governance.keys.tenants;
    let tenant_in = match (query.get("tenant_id"), &principal) {
        (Some(id), p) if p.sees(&state.governance, Some(id)) => tenants.family(id),
        (Some(_), _) => return not_found_one("tenant"),
        (None, Principal::TenantAdmin { tenant_id }) => tenants.family(tenant_id),
        (None, _) => Vec::new(),
    };
    let filter = LedgerFilter {
        from,
        to,
        key_id: query.get("key_id").cloned(),
        tenant_in,
        model: query.get("model").cloned(),
        ..LedgerFilter::default()
    };
    let store = &state.governance.store;
    match query.get("format").map(String::as_str) {
        Some("csv") => match store.usage_rows(&filter, i64::MAX).await {
            Ok(rows) => (
                [
                    (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        http::header::CONTENT_DISPOSITION,
                        "attachment; filename=\"switchyard-usage.csv\"",
                    ),
                ],
                report::csv(&rows),
            )
                .into_response(),
            Err(e) => store_error(&e),
        },
        None | Some("json") => {
            let totals = match store.usage_totals(&filter).await {
                Ok(t) => t,
                Err(e) => return store_error(&e),
            };
            let rows = match store.usage_rows(&filter, JSON_ROWS).await {
                Ok(rows) => rows,
                Err(e) => return store_error(&e),
            };
            Json(json!({
                "totals": {
                    "requests": totals.requests,
                    "input_tokens": totals.input_tokens,
                    "output_tokens": totals.output_tokens,
                    "cached_tokens": totals.cached_tokens,
                    "cost_usd": dollars(totals.cost_nano_usd),
                },
                "rows": rows.iter().map(|r| json!({
                    "request_id": r.request_id,
                    "at_ms": r.at,
                    "tenant_id": r.tenant_id,
                    "key_id": r.key_id,
                    "model": r.model,
                    "deployment": r.deployment,
                    "provider": r.provider,
                    "jurisdiction": r.jurisdiction,
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "cached_tokens": r.cached_tokens,
                    "cost_usd": dollars(r.cost_nano_usd),
                    "latency_ms": r.latency_ms,
                    "status": r.status,
                })).collect::<Vec<_>>(),
                "truncated": totals.requests > JSON_ROWS,
            }))
            .into_response()
        }
        Some(_) => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`format` must be json or csv",
        ),
    }
}
