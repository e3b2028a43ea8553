//! The per-request context: who calls, where the request went, what it is charged, and
//! its one finish (metrics, budget settlement, rate windows, ledger row, receipt, log line,
//! exports), run once whether the request ends normally or its context is dropped.

use std::time::{Duration, Instant};

use std::sync::Arc;
use switchyard_dialects::GatewayError;
use switchyard_governance::budget::Reservation;
use switchyard_governance::Caller;
use switchyard_routing::catalog::Price;
use switchyard_store::ledger::LedgerRow;
use switchyard_types::Usage;

use super::UNRECORDED;
use crate::metrics::{RequestRecord, NONE};
use crate::state::AppState;

/// Per-request bookkeeping, from arrival to the last byte.
pub struct RequestContext {
    pub id: String,
    pub dialect: &'static str,
    pub started: Instant,
    /// Index of the model in the route table, `NONE` until known.
    pub model: u32,
    /// Index of the provider that served (or last failed), `NONE` if none was tried.
    pub provider: u32,
    /// The serving deployment's price per million tokens, once one serves and if known.
    pub price: Option<Price>,
    /// The serving (or last tried) deployment's place in its model's route, `NONE` if none.
    pub position: u32,
    /// The virtual key that called, if any (config keys and an open gateway name none).
    pub caller: Option<Arc<Caller>>,
    /// Whether this request goes into the usage ledger (inference requests do).
    pub billable: bool,
    /// The key's rate windows after admission (for `x-ratelimit-*` headers).
    pub rate: crate::admission::Windows,
    /// Budget held for this request, settled in [`RequestContext::finish`].
    pub reservation: Option<Reservation>,
    /// The counters (key, team, organisation) whose token limits this request's tokens
    /// are charged to when it ends.
    pub token_scopes: Vec<String>,
    /// Policies the request's `x-switchyard-policy` header named (indexes into the state's).
    pub policies: Vec<usize>,
    /// Personal data the PII guard found in the request (masked, redacted or blocked).
    pub pii_findings: u32,
    /// SHA-256 of the request body as received (for the receipt).
    pub prompt_sha256: Option<[u8; 32]>,
    /// The policies the request was held to: name and version (for the receipt).
    pub policy_marks: Vec<(String, String)>,
    /// `refused` (policies), `blocked` (PII guard); empty: decided by the status.
    pub decision: &'static str,
    /// The receipt, once the request's outcome is known.
    pub receipt: Option<crate::receipt::Draft>,
    /// The exporters this request's policies admit (bit i: the state's exporter i); none
    /// until its policies are resolved.
    pub exporters: u64,
    /// What the caller lets the response cache do (`Cache-Control`).
    pub cache: crate::cache::Use,
    /// The answer came from the response cache.
    pub cache_hit: bool,
    /// A cheap estimate of the prompt's tokens (bytes / 4), once the request is routed: what
    /// it is charged at least when an upstream was reached but its usage never arrived.
    pub prompt_tokens: u64,
    recorded: bool,
    /// The state the request started with, so that a context dropped before it finished
    /// (a panic, or a future dropped half-way) still records itself.
    state: AppState,
}

impl RequestContext {
    pub fn start(state: &AppState, dialect: &'static str) -> Self {
        state.inner.metrics.request_started();
        RequestContext {
            id: new_request_id(),
            dialect,
            started: Instant::now(),
            model: NONE,
            provider: NONE,
            price: None,
            position: NONE,
            caller: None,
            billable: false,
            rate: (None, None),
            reservation: None,
            token_scopes: Vec::new(),
            policies: Vec::new(),
            pii_findings: 0,
            prompt_sha256: None,
            policy_marks: Vec::new(),
            decision: "",
            receipt: None,
            exporters: 0,
            cache: crate::cache::Use::ReadWrite,
            cache_hit: false,
            prompt_tokens: 0,
            recorded: false,
            state: state.clone(),
        }
    }

    /// Whether an upstream attempt was started for this request (it may have cost money).
    pub fn reached_upstream(&self) -> bool {
        self.provider != NONE
    }

    /// What to charge when an upstream was reached but its usage did not (all) arrive: no less
    /// than the prompt's estimate and `output_floor`, the output already seen. Usage that did
    /// arrive and is larger stands.
    pub fn at_least(&self, usage: Usage, output_floor: u64) -> Usage {
        if !self.reached_upstream() {
            return usage;
        }
        Usage {
            input_tokens: usage.input_tokens.max(self.prompt_tokens),
            output_tokens: usage.output_tokens.max(output_floor),
            ..usage
        }
    }

    /// Who calls (the key) and which policies the request names.
    pub fn identify(
        &mut self,
        state: &AppState,
        headers: &http::HeaderMap,
    ) -> Result<(), GatewayError> {
        self.caller = state.inner.auth.check(headers)?;
        self.policies = crate::sovereignty::from_headers(state, headers)?;
        self.cache = crate::cache::Use::from_headers(headers);
        Ok(())
    }

    /// Records metrics and writes the one log line for this request. Idempotent.
    pub fn finish(
        &mut self,
        state: &AppState,
        status: u16,
        error: Option<&'static str>,
        ttft: Option<Duration>,
        usage: Usage,
    ) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        // Inference requests (those with a body) get a receipt and an audit record, except
        // those refused because the audit log is full (their record would only grow it).
        if self.prompt_sha256.is_some() && self.decision != UNRECORDED {
            self.receipt = Some(crate::receipt::draft(state, self, status, error));
        }
        let latency = self.started.elapsed();
        let cost_usd = self.cost(&usage);
        state.inner.metrics.record(&RequestRecord {
            model: self.model,
            provider: self.provider,
            dialect: self.dialect,
            status,
            error,
            latency,
            ttft,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd: cost_usd.unwrap_or(0.0),
        });
        let model = state
            .inner
            .routes
            .models()
            .get(self.model as usize)
            .map(|m| m.name.as_str())
            .unwrap_or("-");
        let provider = state
            .inner
            .provider_ids
            .get(self.provider as usize)
            .map(String::as_str)
            .unwrap_or("-");
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(cost_usd.map_or(0, nano_usd));
        }
        if let Some(governance) = &state.inner.governance {
            crate::admission::charge_tokens(
                governance,
                std::mem::take(&mut self.token_scopes),
                usage.input_tokens + usage.output_tokens,
                &self.id,
            );
        }
        if let Some(row) = self.usage_row(state, status, latency, &usage, cost_usd) {
            // One spool line for the row and the receipt's record, when there is a receipt.
            let row = match self.receipt.as_mut() {
                Some(receipt) => receipt.carry(row),
                None => Some(row),
            };
            if let (Some(row), Some(governance)) = (row, &state.inner.governance) {
                governance.ledger.record(row);
            }
        }
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.id,
            dialect = self.dialect,
            model,
            provider,
            status,
            error = error.unwrap_or(""),
            latency_ms = latency.as_secs_f64() * 1000.0,
            ttft_ms = ttft.map(|t| t.as_secs_f64() * 1000.0).unwrap_or(0.0),
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            cost_usd = cost_usd.unwrap_or(0.0),
            pii_findings = self.pii_findings,
            "request finished"
        );
        if !state.inner.exporters.is_empty() {
            crate::export::request_finished(state, self, status, error, latency, &usage, cost_usd);
        }
    }
}

/// Every request ends in exactly one record (metrics, ledger row, audit record, log line),
/// even when its context is dropped before [`RequestContext::finish`] ran: then it is
/// recorded as cancelled, charged at least its prompt's estimate if an upstream was reached.
impl Drop for RequestContext {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        let state = self.state.clone();
        let usage = self.at_least(Usage::default(), 0);
        self.finish(&state, 499, Some("client_cancelled"), None, usage);
        // No answer went out: the record has no answer hash.
        if let Some(mut receipt) = self.receipt.take() {
            let _ = receipt.seal(None);
        }
    }
}

impl RequestContext {
    /// This request's usage row, when it is billable and governance runs.
    fn usage_row(
        &self,
        state: &AppState,
        status: u16,
        latency: Duration,
        usage: &Usage,
        cost_usd: Option<f64>,
    ) -> Option<LedgerRow> {
        state.inner.governance.as_ref().filter(|_| self.billable)?;
        let inner = &state.inner;
        let route = inner.routes.models().get(self.model as usize);
        let deployment = route.and_then(|m| m.deployments.get(self.position as usize));
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Some(LedgerRow {
            request_id: self.id.clone(),
            at: switchyard_store::now_ms(),
            tenant_id: self.caller.as_ref().and_then(|c| c.tenant_id.clone()),
            key_id: self.caller.as_ref().map(|c| c.key_id.clone()),
            model: route.map_or_else(String::new, |m| m.name.clone()),
            deployment: deployment.map(|d| d.id.clone()),
            provider: deployment.map(|d| d.provider_id.clone()),
            jurisdiction: deployment.map(|d| d.jurisdiction.0.clone()),
            input_tokens: clamp(usage.input_tokens),
            output_tokens: clamp(usage.output_tokens),
            cached_tokens: clamp(usage.cache_read_tokens),
            cost_nano_usd: cost_usd.map_or(0, nano_usd),
            latency_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX),
            status: i32::from(status),
        })
    }

    /// What `usage` cost at the serving deployment's price, when a deployment served and its
    /// price is known (the built-in catalog or the config).
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let price = self.price?;
        Some(price.cost(
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens,
        ))
    }
}

/// Dollars as whole billionths, rounded to nearest.
pub fn nano_usd(usd: f64) -> i64 {
    let nano = (usd * 1e9).round();
    if nano.is_finite() && nano >= 0.0 {
        nano.min(i64::MAX as f64) as i64
    } else {
        0
    }
}

/// A fresh request id: `req_` + 24 hex digits of randomness.
fn new_request_id() -> String {
    format!("req_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}
