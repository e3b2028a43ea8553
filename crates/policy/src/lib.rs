//! Sovereignty policies, evaluated without IO: where each deployment runs (`places`, with the
//! well-known endpoints' `defaults`), and the rules a tenant, a key or a request sets on where
//! its data may go (`policy`). The server evaluates them for every candidate deployment
//! before routing and again on every retry and fallback; a request with no candidate left
//! fails closed.

pub mod defaults;
pub mod places;
pub mod policy;

pub use policy::{first_refusal, Policy, PolicySpec, SpecError, Tags};
