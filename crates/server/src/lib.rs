//! The Switchyard server: HTTP front doors, authentication, the request pipeline, error ->
//! HTTP status mapping, metrics and health.
//!
//! Read [`pipeline`] first: one function per operation follows a request from the canonical
//! request to the canonical answer, in the order of DESIGN.md §2. The [`routes`] modules are
//! the thin HTTP edges around it, one per client dialect.

pub mod admin;
pub mod admission;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod errors;
pub mod export;
pub mod files;
pub mod guard;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod probe;
pub mod receipt;
pub mod retry;
pub mod routes;
pub mod serve;
pub mod sovereignty;
pub mod state;

pub use live::Live;
pub use serve::{serve, serve_live, serve_with, ShutdownSignal};
pub use state::{AppState, BuildError};
