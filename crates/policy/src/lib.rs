//! Sovereignty policies, evaluated without IO: where each deployment runs (`places`, with the
//! well-known endpoints' `defaults`), and the rules a tenant, a key or a request sets on where
//! its data may go (`policy`). The server evaluates them for every candidate deployment
//! before routing and again on every retry and fallback; a request with no candidate left
//! fails closed. The PII guard (`pii`) finds personal data in what a request sends and
//! blocks, redacts or masks it as the request's policies say.

pub mod defaults;
pub mod pii;
pub mod places;
pub mod policy;

pub use policy::{first_refusal, Policy, PolicySpec, SpecError, Tags};
