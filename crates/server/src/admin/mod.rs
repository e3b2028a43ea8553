//! The admin API, on its own listener (loopback by default): virtual keys and usage reports.
//! Every call needs a bearer token: `SWITCHYARD_ADMIN_TOKEN` (role `admin`, everything) or
//! `SWITCHYARD_VIEWER_TOKEN` (role `viewer`, reads only). Tokens are held as SHA-256 digests
//! and compared in constant time. `GET /admin/openapi.json` describes every call.

mod keys;
mod openapi;
mod usage;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_governance::Governance;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
}

#[derive(Clone)]
pub struct AdminState {
    governance: Arc<Governance>,
    tokens: Arc<Vec<([u8; 32], Role)>>,
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
            (Some(admin_token), Role::Admin, "SWITCHYARD_ADMIN_TOKEN"),
            (viewer_token, Role::Viewer, "SWITCHYARD_VIEWER_TOKEN"),
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

    /// The role of the request's bearer token, or the refusal to send.
    fn role(&self, headers: &HeaderMap, needed: Role) -> Result<Role, Refusal> {
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
        let mut role = None;
        for (known, r) in self.tokens.iter() {
            if bool::from(known.ct_eq(&digest)) {
                role = Some(*r);
            }
        }
        match role {
            None => Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "Incorrect admin token.",
            )),
            Some(role) if role < needed => Err(Refusal(
                StatusCode::FORBIDDEN,
                "permission_error",
                "This token may only read.",
            )),
            Some(role) => Ok(role),
        }
    }
}

/// A refused admin call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal(StatusCode, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

/// The admin API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/keys", get(keys::list).post(keys::create))
        .route("/admin/keys/{id}", get(keys::get_one).delete(keys::revoke))
        .route("/admin/usage", get(usage::report))
        .route("/admin/openapi.json", get(openapi::document))
        .fallback(not_found)
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
