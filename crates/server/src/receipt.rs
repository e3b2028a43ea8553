//! Receipts: every answer to an inference request carries `x-switchyard-receipt`, the
//! base64url (no padding) JSON of what happened: request id, time, model, serving
//! deployment and its jurisdiction, the policies held to (name and version), the decision,
//! the status, how much personal data the guard found, and SHA-256 hashes of the request
//! body as received and the answer body as sent (a streamed answer's hash is `null`: its
//! bytes are not known when the header leaves). The same JSON, byte for byte, is the
//! request's record in the audit log, so `switchyard receipt verify` finds it there, checks
//! the chain through it and names its position.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchyard_governance::Governance;
use switchyard_store::audit::{hex, Entry};

use crate::pipeline::RequestContext;
use crate::state::AppState;

/// The response header.
pub const HEADER: &str = "x-switchyard-receipt";

/// A receipt waiting for the answer's bytes.
pub struct Draft {
    record: serde_json::Map<String, serde_json::Value>,
    request_id: String,
    at: i64,
    audit: Option<Arc<Governance>>,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft")
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// What the request's outcome was, for the receipt.
fn decision(ctx: &RequestContext, status: u16) -> &'static str {
    if !ctx.decision.is_empty() {
        return ctx.decision;
    }
    if (200..300).contains(&status) {
        "allowed"
    } else {
        "failed"
    }
}

/// The receipt of `ctx`'s request as it ends with `status`.
pub fn draft(state: &AppState, ctx: &RequestContext, status: u16) -> Draft {
    let inner = &state.inner;
    let route = inner.routes.models().get(ctx.model as usize);
    let served = (200..300).contains(&status);
    let deployment = route
        .and_then(|m| m.deployments.get(ctx.position as usize))
        .filter(|_| served);
    let at = switchyard_store::now_ms();
    let policies: Vec<serde_json::Value> = ctx
        .policy_marks
        .iter()
        .map(|(name, version)| json!({"name": name, "version": version}))
        .collect();
    let value = json!({
        "v": 1,
        "request_id": ctx.id,
        "at": at,
        "model": route.map(|m| m.name.as_str()),
        "deployment": deployment.map(|d| d.id.as_str()),
        "jurisdiction": deployment.map(|d| d.jurisdiction.0.as_str()),
        "policies": policies,
        "decision": decision(ctx, status),
        "status": status,
        "pii_findings": ctx.pii_findings,
        "key_id": ctx.caller.as_ref().map(|c| c.key_id.as_str()),
        "tenant_id": ctx.caller.as_ref().and_then(|c| c.tenant_id.as_deref()),
        "prompt_sha256": ctx.prompt_sha256.map(|h| hex(&h)),
    });
    let record = match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Draft {
        record,
        request_id: ctx.id.clone(),
        at,
        audit: inner.governance.clone(),
    }
}

impl Draft {
    /// The receipt with the answer's hash (`None`: a stream), queued to the audit log; the
    /// header value.
    pub fn seal(&self, answer: Option<&[u8]>) -> Option<HeaderValue> {
        let mut record = self.record.clone();
        record.insert(
            "answer_sha256".into(),
            answer.map_or(serde_json::Value::Null, |a| hex(&Sha256::digest(a)).into()),
        );
        let text = serde_json::Value::Object(record).to_string();
        if let Some(governance) = &self.audit {
            governance.audit.record(Entry {
                at: self.at,
                kind: "request".into(),
                ref_id: self.request_id.clone(),
                record: text.clone(),
            });
        }
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes());
        HeaderValue::from_str(&encoded).ok()
    }
}

/// The request body's hash, for the receipt.
pub fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}
