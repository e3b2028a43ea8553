//! Request telemetry to OpenTelemetry collectors (`[[exporters]]`, OTLP/HTTP with JSON
//! bodies): one span and one log record per finished request, metadata only (ids, model,
//! deployment, jurisdiction, status, tokens, cost; never a prompt, an answer or a secret).
//!
//! Sovereignty: every exporter is tagged like a deployment, and a request's telemetry goes
//! only to the exporters that every policy it is held to admits ([`Exporters::admitted`],
//! worked out when its policies are resolved). A request whose policies were never resolved
//! (refused before: a bad key, a malformed body) is exported nowhere: fail closed.
//!
//! Exporting itself fails open, as logging does: each exporter has a bounded queue and its
//! own task posting batches; a full queue or a collector that is down drops records and
//! counts them (`/metrics`), never slowing a request.

mod otlp;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchyard_config::ExporterConfig;
use switchyard_policy::{Policy, Tags};
use tokio::sync::mpsc;

pub use otlp::{logs_json, traces_json};

use crate::pipeline::RequestContext;
use crate::state::AppState;
use switchyard_types::Usage;

/// Records one exporter's queue holds before it drops.
const QUEUE: usize = 8_192;
/// Records per export call.
const BATCH: usize = 512;
/// How long a batch may wait for more records.
const LINGER: Duration = Duration::from_millis(200);

/// What one finished request tells the collectors.
#[derive(Debug, Clone)]
pub struct Finished {
    pub request_id: String,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub dialect: &'static str,
    pub model: String,
    pub provider: String,
    pub deployment: Option<String>,
    pub jurisdiction: Option<String>,
    pub status: u16,
    pub error: &'static str,
    pub decision: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub key_id: Option<String>,
    pub tenant_id: Option<String>,
    pub policies: Vec<String>,
}

/// Counts per exporter, for `/metrics`.
#[derive(Debug, Default)]
pub struct ExportStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    /// Records its policies kept from this exporter.
    pub withheld: AtomicU64,
}

#[derive(Debug)]
pub struct Exporter {
    pub name: String,
    pub tags: Tags,
    sender: mpsc::Sender<Arc<Finished>>,
    pub stats: Arc<ExportStats>,
}

/// Every configured exporter (at most 64: a request's admission is a bit mask).
#[derive(Debug, Default)]
pub struct Exporters {
    pub list: Vec<Exporter>,
}

impl Exporters {
    /// Starts one sending task per exporter. Outside a runtime (a CLI that only inspects a
    /// config) nothing is started and nothing exported.
    pub fn start(configs: &[ExporterConfig]) -> Exporters {
        if configs.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            return Exporters::default();
        }
        // Never redirected: a collector's 307 would send records and its headers to an
        // address whose jurisdiction nobody checked.
        let client = match reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(%err, "exporters disabled: no HTTP client");
                return Exporters::default();
            }
        };
        let list = configs
            .iter()
            .take(64) // the config allows no more
            .map(|config| {
                let (sender, receiver) = mpsc::channel(QUEUE);
                let stats = Arc::new(ExportStats::default());
                tokio::spawn(send_loop(
                    client.clone(),
                    config.clone(),
                    receiver,
                    stats.clone(),
                ));
                Exporter {
                    name: config.name.clone(),
                    tags: tags(config),
                    sender,
                    stats,
                }
            })
            .collect();
        Exporters { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The exporters every one of `policies` admits, as a bit mask.
    pub fn admitted(&self, policies: &[&Policy]) -> u64 {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, e)| policies.iter().all(|p| p.check_place(&e.tags).is_ok()))
            .fold(0u64, |mask, (i, _)| mask | (1 << i))
    }

    /// Queues `finished` to the exporters in `mask`; counts the others as withheld. Never
    /// waits: a full queue drops the record (counted).
    pub fn export(&self, mask: u64, finished: Finished) {
        let finished = Arc::new(finished);
        for (i, exporter) in self.list.iter().enumerate() {
            if mask & (1 << i) == 0 {
                exporter.stats.withheld.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if exporter.sender.try_send(finished.clone()).is_err() {
                exporter.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The Prometheus text of the exporters' counts.
    pub fn render(&self) -> String {
        if self.list.is_empty() {
            return String::new();
        }
        let mut out = String::from("# HELP switchyard_export_records_total Request records per exporter: sent, dropped (queue full or collector failing) or withheld (a policy of the request refuses the exporter).\n# TYPE switchyard_export_records_total counter\n");
        for e in &self.list {
            let name = crate::metrics::escape(&e.name);
            for (outcome, count) in [
                ("sent", &e.stats.sent),
                ("dropped", &e.stats.dropped),
                ("withheld", &e.stats.withheld),
            ] {
                out.push_str(&format!(
                    "switchyard_export_records_total{{exporter=\"{name}\",outcome=\"{outcome}\"}} {}\n",
                    count.load(Ordering::Relaxed)
                ));
            }
        }
        out
    }
}

/// Hands a finished request's span and log record to the exporters its policies admit.
pub fn request_finished(
    state: &AppState,
    ctx: &RequestContext,
    status: u16,
    error: Option<&'static str>,
    latency: Duration,
    usage: &Usage,
    cost_usd: Option<f64>,
) {
    let inner = &state.inner;
    let route = inner.routes.models().get(ctx.model as usize);
    let deployment = route
        .and_then(|m| m.deployments.get(ctx.position as usize))
        .filter(|_| (200..300).contains(&status));
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let start = end.saturating_sub(u64::try_from(latency.as_nanos()).unwrap_or(0));
    let decision = crate::receipt::decision(ctx, status);
    inner.exporters.export(
        ctx.exporters,
        crate::export::Finished {
            request_id: ctx.id.clone(),
            trace_id: fastrand::u128(1..).to_be_bytes(),
            span_id: fastrand::u64(1..).to_be_bytes(),
            start_unix_nano: start,
            end_unix_nano: end,
            dialect: ctx.dialect,
            model: route.map_or_else(String::new, |m| m.name.clone()),
            provider: inner
                .provider_ids
                .get(ctx.provider as usize)
                .cloned()
                .unwrap_or_default(),
            deployment: deployment.map(|d| d.id.clone()),
            jurisdiction: deployment.map(|d| d.jurisdiction.0.clone()),
            status,
            error: error.unwrap_or(""),
            decision,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd: cost_usd.unwrap_or(0.0),
            key_id: ctx.caller.as_ref().map(|c| c.key_id.clone()),
            tenant_id: ctx.caller.as_ref().and_then(|c| c.tenant_id.clone()),
            policies: ctx.policy_marks.iter().map(|(n, _)| n.clone()).collect(),
        },
    );
}

/// An exporter's tags as policies read them (an unknown place is inside nothing).
fn tags(config: &ExporterConfig) -> Tags {
    let retention = config
        .retention
        .unwrap_or(switchyard_types::Retention::Unknown);
    Tags::new(
        &config.jurisdiction.0,
        &config.operator,
        config.hosting,
        retention,
    )
    .unwrap_or_else(|| Tags {
        place: switchyard_policy::places::Place::In(switchyard_policy::places::Countries::ALL),
        jurisdiction: config.jurisdiction.0.clone(),
        operator: config.operator.clone(),
        hosting: config.hosting,
        retention,
    })
}

/// One exporter's task: batches from its queue, posted as traces and logs; ends when the
/// queue closes (a reload or shutdown), after sending what it held.
async fn send_loop(
    client: reqwest::Client,
    config: ExporterConfig,
    mut receiver: mpsc::Receiver<Arc<Finished>>,
    stats: Arc<ExportStats>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        if batch.len() < BATCH {
            tokio::time::sleep(LINGER).await;
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
        }
        let mut ok = true;
        if config.traces {
            ok &= post(&client, &config, "/v1/traces", traces_json(&batch)).await;
        }
        if config.logs {
            ok &= post(&client, &config, "/v1/logs", logs_json(&batch)).await;
        }
        let counter = if ok { &stats.sent } else { &stats.dropped };
        counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    }
}

/// One OTLP/HTTP export; whether the collector took it.
async fn post(client: &reqwest::Client, config: &ExporterConfig, path: &str, body: String) -> bool {
    let mut request = client
        .post(format!("{}{path}", config.endpoint))
        .timeout(config.timeout)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in &config.headers {
        request = request.header(name.as_str(), value.expose());
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(exporter = %config.name, status = response.status().as_u16(), path, "export refused by the collector; records dropped");
            false
        }
        Err(err) => {
            // Without the URL: it may carry credentials.
            tracing::warn!(exporter = %config.name, error = %err.without_url(), path, "export failed; records dropped");
            false
        }
    }
}
