//! OTLP/HTTP JSON bodies (opentelemetry-proto's JSON mapping): `ExportTraceServiceRequest`
//! with one SERVER span per request, and `ExportLogsServiceRequest` with one log record per
//! request. Trace and span ids are lower-case hex; 64-bit integers are decimal strings, as
//! the mapping requires.

use serde_json::{json, Value};

use super::Finished;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn string(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn int(key: &str, value: u64) -> Value {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

/// The attributes of one request (semantic conventions where they exist).
fn attributes(f: &Finished) -> Vec<Value> {
    let mut out = vec![
        string("switchyard.request_id", &f.request_id),
        string("switchyard.dialect", f.dialect),
        string("gen_ai.request.model", &f.model),
        string("gen_ai.system", &f.provider),
        int("http.response.status_code", u64::from(f.status)),
        int("gen_ai.usage.input_tokens", f.input_tokens),
        int("gen_ai.usage.output_tokens", f.output_tokens),
        json!({"key": "switchyard.cost_usd", "value": {"doubleValue": f.cost_usd}}),
        string("switchyard.decision", f.decision),
    ];
    if let Some(d) = &f.deployment {
        out.push(string("switchyard.deployment", d));
    }
    if let Some(j) = &f.jurisdiction {
        out.push(string("switchyard.jurisdiction", j));
    }
    if !f.error.is_empty() {
        out.push(string("error.type", f.error));
    }
    if let Some(k) = &f.key_id {
        out.push(string("switchyard.key_id", k));
    }
    if let Some(t) = &f.tenant_id {
        out.push(string("switchyard.tenant_id", t));
    }
    if !f.policies.is_empty() {
        out.push(string("switchyard.policies", &f.policies.join(",")));
    }
    out
}

fn resource() -> Value {
    json!({"attributes": [
        string("service.name", "switchyard"),
        string("service.version", env!("CARGO_PKG_VERSION")),
    ]})
}

/// `POST /v1/traces` body.
pub fn traces_json(batch: &[std::sync::Arc<Finished>]) -> String {
    let spans: Vec<Value> = batch
        .iter()
        .map(|f| {
            json!({
                "traceId": hex(&f.trace_id),
                "spanId": hex(&f.span_id),
                "name": format!("{} {}", f.dialect, f.model),
                // SPAN_KIND_SERVER
                "kind": 2,
                "startTimeUnixNano": f.start_unix_nano.to_string(),
                "endTimeUnixNano": f.end_unix_nano.to_string(),
                "attributes": attributes(f),
                // STATUS_CODE_OK / STATUS_CODE_ERROR
                "status": {"code": if f.status < 400 && f.error.is_empty() { 1 } else { 2 }},
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": resource(),
        "scopeSpans": [{"scope": {"name": "switchyard"}, "spans": spans}],
    }]})
    .to_string()
}

/// `POST /v1/logs` body.
pub fn logs_json(batch: &[std::sync::Arc<Finished>]) -> String {
    let records: Vec<Value> = batch
        .iter()
        .map(|f| {
            let (number, text) = if f.status >= 500 {
                (17, "ERROR")
            } else if f.status >= 400 {
                (13, "WARN")
            } else {
                (9, "INFO")
            };
            json!({
                "timeUnixNano": f.end_unix_nano.to_string(),
                "observedTimeUnixNano": f.end_unix_nano.to_string(),
                "severityNumber": number,
                "severityText": text,
                "body": {"stringValue": "request finished"},
                "attributes": attributes(f),
                "traceId": hex(&f.trace_id),
                "spanId": hex(&f.span_id),
            })
        })
        .collect();
    json!({"resourceLogs": [{
        "resource": resource(),
        "scopeLogs": [{"scope": {"name": "switchyard"}, "logRecords": records}],
    }]})
    .to_string()
}
