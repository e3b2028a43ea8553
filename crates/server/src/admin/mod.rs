//! The admin API, on its own listener (loopback by default): tenants (organisations and
//! their teams), virtual keys, tenant admin tokens and usage reports. Every call needs a
//! bearer token:
//!
//! - `SWITCHYARD_ADMIN_TOKEN`: role `admin`, everything;
//! - `SWITCHYARD_VIEWER_TOKEN`: role `viewer`, reads everything, changes nothing;
//! - a `sya_...` token an admin made for one tenant: role `tenant-admin`, reads and manages
//!   that tenant's teams and keys and reads their usage, nothing else (others' resources
//!   answer 404, as if they did not exist).
//!
//! Environment tokens are held as SHA-256 digests and compared in constant time; tenant
//! tokens are stored like keys (HMAC under the pepper). `GET /admin/openapi.json`
//! describes every call.

mod keys;
mod openapi;
mod tenants;
mod usage;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_governance::Governance;

/// Who is calling the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Viewer,
    /// Manages one tenant (and, for an organisation, its teams).
    TenantAdmin {
        tenant_id: String,
    },
}

impl Principal {
    pub fn may_write(&self) -> bool {
        !matches!(self, Principal::Viewer)
    }

    /// Whether resources of `tenant_id` (`None`: keys under no tenant) are visible.
    pub fn sees(&self, governance: &Governance, tenant_id: Option<&str>) -> bool {
        match self {
            Principal::Admin | Principal::Viewer => true,
            Principal::TenantAdmin { tenant_id: own } => tenant_id
                .is_some_and(|t| governance.keys.tenants.family(own).iter().any(|id| id == t)),
        }
    }
}

#[derive(Clone)]
pub struct AdminState {
    governance: Arc<Governance>,
    tokens: Arc<Vec<([u8; 32], Principal)>>,
}

impl AdminState {
    /// `admin_token` is required; `viewer_token` optional. Tokens shorter than 16 characters
    /// are refused.
    pub fn new(
        governance: Arc<Governance>,
        admin_token: &str,
        viewer_token: Option<&str>,
    ) -> Result<AdminState, String> {
        let mut tokens = Vec::new();
        for (token, role, name) in [
            (
                Some(admin_token),
                Principal::Admin,
                "SWITCHYARD_ADMIN_TOKEN",
            ),
            (viewer_token, Principal::Viewer, "SWITCHYARD_VIEWER_TOKEN"),
        ] {
            let Some(token) = token else { continue };
            if token.len() < 16 {
                return Err(format!("{name} must be at least 16 characters"));
            }
            tokens.push((Sha256::digest(token.as_bytes()).into(), role));
        }
        Ok(AdminState {
            governance,
            tokens: Arc::new(tokens),
        })
    }

    /// The store and caches the admin API works on.
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    /// Who sent the request's bearer token, if anyone known (for the audit log).
    pub async fn principal_of(&self, headers: &HeaderMap) -> Option<Principal> {
        self.principal(headers, false).await.ok()
    }

    /// Who sent the request's bearer token, or the refusal to send. `write`: the call
    /// changes something (a viewer is refused).
    async fn principal(&self, headers: &HeaderMap, write: bool) -> Result<Principal, Refusal> {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(presented) = presented else {
            return Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "Send the admin token as `Authorization: Bearer TOKEN`.",
            ));
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (known, principal) in self.tokens.iter() {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(principal.clone());
            }
        }
        if found.is_none() {
            found = self.tenant_token(presented).await?;
        }
        match found {
            None => Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "Incorrect admin token.",
            )),
            Some(principal) if write && !principal.may_write() => Err(Refusal(
                StatusCode::FORBIDDEN,
                "permission_error",
                "This token may only read.",
            )),
            Some(principal) => Ok(principal),
        }
    }

    /// A live tenant admin token's principal (its tenant enabled), if `presented` is one.
    async fn tenant_token(&self, presented: &str) -> Result<Option<Principal>, Refusal> {
        let keys = &self.governance.keys;
        let Some(pepper) = keys.pepper() else {
            return Ok(None);
        };
        if !switchyard_governance::keys::admin_well_formed(presented) {
            return Ok(None);
        }
        let hash = switchyard_governance::keys::to_hex(&pepper.hash(presented));
        match self.governance.store.admin_token_by_hash(&hash).await {
            Ok(Some(row)) if keys.tenants.live(Some(&row.tenant_id)) => {
                Ok(Some(Principal::TenantAdmin {
                    tenant_id: row.tenant_id,
                }))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::error!(target: "switchyard::admin", error = %e, "cannot check a tenant admin token");
                Err(Refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    "The store did not answer; try again.",
                ))
            }
        }
    }
}

/// A refused admin call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal(StatusCode, &'static str, &'static str);

/// The 404 for a resource that does not exist or that the caller may not see.
pub(crate) fn not_found_one(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found_error",
        &format!("No {what} with this id."),
    )
}

/// The 400 for a body that is not what the call takes.
pub(crate) fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// The 403 for a change a tenant admin may not make.
pub(crate) fn forbidden(message: &str) -> Response {
    error(StatusCode::FORBIDDEN, "permission_error", message)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

/// The admin API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/keys", get(keys::list).post(keys::create))
        .route(
            "/admin/keys/{id}",
            get(keys::get_one).patch(keys::update).delete(keys::revoke),
        )
        .route("/admin/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/admin/tenants/{id}",
            get(tenants::get_one)
                .patch(tenants::update)
                .delete(tenants::disable),
        )
        .route(
            "/admin/tenants/{id}/tokens",
            get(tenants::tokens).post(tenants::create_token),
        )
        .route("/admin/tokens/{id}", delete(tenants::revoke_token))
        .route("/admin/usage", get(usage::report))
        .route("/admin/openapi.json", get(openapi::document))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::admin_calls,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found_error",
        "No such admin endpoint.",
    )
}

/// `{"error": {"type", "message"}}` with a status.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"type": kind, "message": message}})),
    )
        .into_response()
}

/// Serves the admin API until `shutdown` resolves.
pub async fn serve(
    state: AdminState,
    listener: tokio::net::TcpListener,
    shutdown: crate::ShutdownSignal,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
