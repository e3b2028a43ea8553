//! Receipts: every answer to an inference request carries `x-switchyard-receipt`, the
//! base64url (no padding) JSON of what happened: request id, its place in the audit log
//! (lane and position), time, model, serving deployment and its jurisdiction, the policies
//! held to (name and version), the decision, the status, how much personal data the guard
//! found, and SHA-256 hashes of the request body as received and the answer body as sent.
//! The same JSON, byte for byte, is the request's record in the audit log, so `switchyard
//! receipt verify` finds it there and checks the chain through it.
//!
//! A stream gets two: the header's (`"stream": "started"`, no answer hash: the bytes are not
//! known yet) and, just before the dialect's final event, an SSE comment
//! `: x-switchyard-receipt=<receipt>` (`"stream": "ended"`, with the final status, any
//! in-band error, and the hash of the whole body without that comment). A stream the client
//! abandons still gets its ended record in the log. Both are records of the log.
//!
//! A request's usage row rides with its receipt ([`Draft::carry`]): sealing spools both on
//! one line before the receipt is handed out, so a killed process loses neither.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use sha2::{Digest, Sha256};
use switchyard_governance::Governance;
use switchyard_store::audit::{hex, Position};
use switchyard_store::ledger::LedgerRow;

use crate::pipeline::RequestContext;
use crate::state::AppState;

/// The response header.
pub const HEADER: &str = "x-switchyard-receipt";

/// A receipt waiting for the answer's bytes. Field order is the JSON's.
#[derive(serde::Serialize)]
struct Record<'a> {
    v: u8,
    request_id: &'a str,
    chain: Option<Position>,
    stream: Option<&'a str>,
    at: i64,
    model: Option<&'a str>,
    deployment: Option<&'a str>,
    jurisdiction: Option<&'a str>,
    policies: Vec<Mark<'a>>,
    decision: &'a str,
    status: u16,
    error: Option<&'a str>,
    /// `hit`: the answer was kept from an earlier identical request (same scope, same
    /// policies); `null` otherwise.
    cache: Option<&'a str>,
    pii_findings: u32,
    key_id: Option<&'a str>,
    tenant_id: Option<&'a str>,
    prompt_sha256: Option<String>,
    answer_sha256: Option<String>,
}

#[derive(serde::Serialize)]
struct Mark<'a> {
    name: &'a str,
    version: &'a str,
}

/// A receipt waiting for the answer's bytes.
pub struct Draft {
    request_id: String,
    at: i64,
    model: Option<String>,
    deployment: Option<(String, String)>,
    policies: Vec<(String, String)>,
    decision: &'static str,
    status: u16,
    error: Option<&'static str>,
    stream: Option<&'static str>,
    cache_hit: bool,
    pii_findings: u32,
    key_id: Option<String>,
    tenant_id: Option<String>,
    prompt_sha256: Option<[u8; 32]>,
    audit: Option<Arc<Governance>>,
    /// The request's usage row, written with the record when the receipt is sealed.
    usage: Option<LedgerRow>,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft")
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// What the request's outcome was, for the receipt.
pub(crate) fn decision(ctx: &RequestContext, status: u16) -> &'static str {
    if !ctx.decision.is_empty() {
        return ctx.decision;
    }
    if (200..300).contains(&status) {
        "allowed"
    } else {
        "failed"
    }
}

/// The receipt of `ctx`'s request as it ends with `status` (and `error`, its kind).
pub fn draft(
    state: &AppState,
    ctx: &RequestContext,
    status: u16,
    error: Option<&'static str>,
) -> Draft {
    let inner = &state.inner;
    let route = inner.routes.models().get(ctx.model as usize);
    let served = (200..300).contains(&status);
    let deployment = route
        .and_then(|m| m.deployments.get(ctx.position as usize))
        .filter(|_| served)
        .map(|d| (d.id.clone(), d.jurisdiction.0.clone()));
    Draft {
        request_id: ctx.id.clone(),
        at: switchyard_store::now_ms(),
        model: route.map(|m| m.name.clone()),
        deployment,
        policies: ctx.policy_marks.clone(),
        decision: decision(ctx, status),
        status,
        error,
        stream: None,
        cache_hit: ctx.cache_hit,
        pii_findings: ctx.pii_findings,
        key_id: ctx.caller.as_ref().map(|c| c.key_id.clone()),
        tenant_id: ctx.caller.as_ref().and_then(|c| c.tenant_id.clone()),
        prompt_sha256: ctx.prompt_sha256,
        audit: inner.governance.clone(),
        usage: None,
    }
}

impl Draft {
    /// The receipt of a stream at `stage` (`started` or `ended`).
    pub fn streamed(mut self, stage: &'static str) -> Draft {
        self.stream = Some(stage);
        self
    }

    /// Keeps the request's usage row, to be spooled with the record when the receipt is
    /// sealed (or written alone if it never is); gives it back when there is no audit log.
    pub fn carry(&mut self, row: LedgerRow) -> Option<LedgerRow> {
        if self.audit.is_none() {
            return Some(row);
        }
        self.usage = Some(row);
        None
    }

    /// The receipt with the answer's hash (`None`: not known), queued to the audit log at
    /// the position it names (with the usage row it carries); the receipt text (base64url).
    pub fn seal(&mut self, answer_sha256: Option<&[u8; 32]>) -> Option<String> {
        let answer = answer_sha256.map(|h| hex(h));
        let prompt = self.prompt_sha256.map(|h| hex(&h));
        let record = |chain: Option<Position>| Record {
            v: 1,
            request_id: &self.request_id,
            chain,
            stream: self.stream,
            at: self.at,
            model: self.model.as_deref(),
            deployment: self.deployment.as_ref().map(|d| d.0.as_str()),
            jurisdiction: self.deployment.as_ref().map(|d| d.1.as_str()),
            policies: self
                .policies
                .iter()
                .map(|(name, version)| Mark { name, version })
                .collect(),
            decision: self.decision,
            status: self.status,
            error: self.error,
            cache: self.cache_hit.then_some("hit"),
            pii_findings: self.pii_findings,
            key_id: self.key_id.as_deref(),
            tenant_id: self.tenant_id.as_deref(),
            prompt_sha256: prompt.clone(),
            answer_sha256: answer.clone(),
        };
        let encode =
            |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes());
        match &self.audit {
            Some(governance) => {
                let mut encoded = None;
                let usage = self.usage.take();
                governance.record_request(
                    self.at,
                    &self.request_id,
                    |position| {
                        let text =
                            serde_json::to_string(&record(Some(position))).unwrap_or_default();
                        encoded = Some(encode(&text));
                        text
                    },
                    usage,
                )?;
                encoded
            }
            None => serde_json::to_string(&record(None))
                .ok()
                .map(|text| encode(&text)),
        }
    }

    /// [`Draft::seal`] as a header value.
    pub fn header(&mut self, answer_sha256: Option<&[u8; 32]>) -> Option<HeaderValue> {
        self.seal(answer_sha256)
            .and_then(|text| HeaderValue::from_str(&text).ok())
    }
}

/// A receipt never sealed still leaves its usage row.
impl Drop for Draft {
    fn drop(&mut self) {
        if let (Some(row), Some(governance)) = (self.usage.take(), &self.audit) {
            governance.ledger.record(row);
        }
    }
}

/// The request body's hash, for the receipt.
pub fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}
