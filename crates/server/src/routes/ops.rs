//! Operations endpoints: `/metrics`, `/healthz`, `/readyz`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::StatusCode;

use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.inner.metrics.render(),
    )
        .into_response()
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
