//! `[[exporters]]`: where request telemetry (OTLP/HTTP JSON traces and logs, metadata only)
//! is sent. Each exporter is tagged like a deployment (jurisdiction, operator, hosting,
//! retention) and gets a request's telemetry only when every policy that request is held to
//! admits those tags; with `offline = true` only loopback or private endpoints are allowed.

use std::collections::HashSet;

use crate::raw::RawExporter;
use crate::validate::{parse_headers, parse_hosting, parse_jurisdiction, parse_retention, Env};
use crate::{ConfigError, ExporterConfig};

/// Validates every `[[exporters]]` entry.
pub(crate) fn exporters(
    raw: &[RawExporter],
    offline: bool,
    env: Env<'_>,
) -> Result<Vec<ExporterConfig>, ConfigError> {
    if raw.len() > 64 {
        return Err(ConfigError::invalid("exporters", "at most 64 exporters"));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut names = HashSet::new();
    for (i, e) in raw.iter().enumerate() {
        let at = |field: &str| format!("exporters[{i}].{field}");
        let valid_name = !e.name.is_empty()
            && e.name.len() <= 64
            && e.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(ConfigError::invalid(
                at("name"),
                "must be 1-64 letters, digits, `-` or `_`",
            ));
        }
        if !names.insert(e.name.clone()) {
            return Err(ConfigError::invalid(
                at("name"),
                format!("duplicate exporter name `{}`", e.name),
            ));
        }
        match e.kind.as_deref() {
            None | Some("otlp") => {}
            Some(other) => {
                return Err(ConfigError::invalid(
                    at("type"),
                    format!("unknown exporter type `{other}`; expected otlp (OTLP/HTTP, JSON)"),
                ))
            }
        }
        let endpoint = e.endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            || url_host(&endpoint).is_empty()
        {
            return Err(ConfigError::invalid(
                at("endpoint"),
                "must be an http:// or https:// URL (the collector's base, e.g. http://otel:4318)",
            ));
        }
        if offline {
            if let Some(why) = crate::offline_url_refusal(&e.name, &endpoint) {
                return Err(ConfigError::invalid(at("endpoint"), why));
            }
        }
        let (mut traces, mut logs) = (e.signals.is_none(), e.signals.is_none());
        for signal in e.signals.iter().flatten() {
            match signal.as_str() {
                "traces" => traces = true,
                "logs" => logs = true,
                other => {
                    return Err(ConfigError::invalid(
                        at("signals"),
                        format!("unknown signal `{other}`; expected traces or logs"),
                    ))
                }
            }
        }
        if !traces && !logs {
            return Err(ConfigError::invalid(
                at("signals"),
                "names no signal: list traces, logs or both",
            ));
        }
        let headers = parse_headers(&format!("exporters[{i}].headers"), &e.headers, env)?;
        let timeout_s = e.timeout_s.unwrap_or(10.0);
        if !(timeout_s > 0.0 && timeout_s <= 300.0) {
            return Err(ConfigError::invalid(
                at("timeout_s"),
                "must be above 0 and at most 300",
            ));
        }
        // Not written: `LOCAL` for a collector on this machine, else `UNKNOWN` (which every
        // jurisdiction rule refuses).
        let jurisdiction = parse_jurisdiction(
            &at("jurisdiction"),
            e.jurisdiction
                .as_deref()
                .or(is_loopback(url_host(&endpoint)).then_some("LOCAL")),
        )?;
        out.push(ExporterConfig {
            name: e.name.clone(),
            endpoint,
            traces,
            logs,
            jurisdiction,
            operator: e.operator.clone().unwrap_or_else(|| "unknown".to_owned()),
            hosting: parse_hosting(&at("hosting"), e.hosting.as_deref())?,
            retention: parse_retention(&at("retention"), e.retention.as_deref())?,
            headers,
            timeout: std::time::Duration::from_secs_f64(timeout_s),
        });
    }
    Ok(out)
}

/// The host part of an http(s) URL (empty when there is none).
fn url_host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .unwrap_or("")
}

/// `localhost` or a loopback address (IPv6 in brackets, any port).
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
