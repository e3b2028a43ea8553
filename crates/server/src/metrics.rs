//! Prometheus metrics, kept in memory and rendered on `GET /metrics`.
//!
//! Label values are indices into the configured model and provider lists (plus one slot for
//! "none"), so a client sending random model names cannot grow the label space, and
//! recording a request allocates nothing. One short lock per finished request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: [f64; 18] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: Duration) {
        let v = value.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// `(model index, provider index)`; `NONE` when not known (unknown model, no provider tried).
type Pair = (u32, u32);
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
struct Registry {
    requests: HashMap<(Pair, u16, &'static str), u64>,
    errors: HashMap<(Pair, &'static str), u64>,
    latency: HashMap<Pair, Histogram>,
    ttft: HashMap<Pair, Histogram>,
    input_tokens: HashMap<Pair, u64>,
    output_tokens: HashMap<Pair, u64>,
    cost_usd: HashMap<Pair, f64>,
}

/// What one finished request contributes.
#[derive(Debug, Clone, Copy)]
pub struct RequestRecord {
    pub model: u32,
    pub provider: u32,
    pub dialect: &'static str,
    pub status: u16,
    /// A short error kind (`upstream_timeout`, `client_cancelled`...), if it failed.
    pub error: Option<&'static str>,
    pub latency: Duration,
    pub ttft: Option<Duration>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// At the serving deployment's price; 0 when unknown.
    pub cost_usd: f64,
}

pub struct Metrics {
    models: Vec<String>,
    providers: Vec<String>,
    registry: Mutex<Registry>,
    in_flight: AtomicI64,
}

impl Metrics {
    pub fn new(models: Vec<String>, providers: Vec<String>) -> Self {
        Metrics {
            models,
            providers,
            registry: Mutex::new(Registry::default()),
            in_flight: AtomicI64::new(0),
        }
    }

    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn record(&self, r: &RequestRecord) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let Ok(mut reg) = self.registry.lock() else {
            return;
        };
        let pair = (r.model, r.provider);
        *reg.requests.entry((pair, r.status, r.dialect)).or_default() += 1;
        if let Some(kind) = r.error {
            *reg.errors.entry((pair, kind)).or_default() += 1;
        }
        reg.latency.entry(pair).or_default().observe(r.latency);
        if let Some(ttft) = r.ttft {
            reg.ttft.entry(pair).or_default().observe(ttft);
        }
        if r.input_tokens > 0 {
            *reg.input_tokens.entry(pair).or_default() += r.input_tokens;
        }
        if r.output_tokens > 0 {
            *reg.output_tokens.entry(pair).or_default() += r.output_tokens;
        }
        if r.cost_usd > 0.0 {
            *reg.cost_usd.entry(pair).or_default() += r.cost_usd;
        }
    }

    fn labels(&self, (model, provider): Pair) -> String {
        let name = |list: &[String], i: u32| {
            list.get(i as usize)
                .map(|s| escape(s))
                .unwrap_or_else(|| "none".to_owned())
        };
        format!(
            "model=\"{}\",provider=\"{}\"",
            name(&self.models, model),
            name(&self.providers, provider)
        )
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let Ok(reg) = self.registry.lock() else {
            return out;
        };
        let mut sorted = |header: &str, mut lines: Vec<String>| {
            out.push_str(header);
            lines.sort();
            for line in lines {
                out.push_str(&line);
            }
        };
        sorted(
            "# HELP switchyard_requests_total Requests finished, by model, provider, dialect and HTTP status.\n# TYPE switchyard_requests_total counter\n",
            reg.requests
                .iter()
                .map(|((pair, status, dialect), n)| {
                    format!(
                        "switchyard_requests_total{{{},dialect=\"{dialect}\",status=\"{status}\"}} {n}\n",
                        self.labels(*pair)
                    )
                })
                .collect(),
        );
        sorted(
            "# HELP switchyard_errors_total Failed requests, by model, provider and error kind.\n# TYPE switchyard_errors_total counter\n",
            reg.errors
                .iter()
                .map(|((pair, kind), n)| {
                    format!("switchyard_errors_total{{{},kind=\"{kind}\"}} {n}\n", self.labels(*pair))
                })
                .collect(),
        );
        sorted(
            "# HELP switchyard_tokens_total Tokens processed, by model, provider and direction.\n# TYPE switchyard_tokens_total counter\n",
            reg.input_tokens
                .iter()
                .map(|(pair, n)| (pair, "input", n))
                .chain(reg.output_tokens.iter().map(|(pair, n)| (pair, "output", n)))
                .map(|(pair, direction, n)| {
                    format!("switchyard_tokens_total{{{},direction=\"{direction}\"}} {n}\n", self.labels(*pair))
                })
                .collect(),
        );
        sorted(
            "# HELP switchyard_cost_usd_total What answers cost at their deployments' prices, by model and provider.\n# TYPE switchyard_cost_usd_total counter\n",
            reg.cost_usd
                .iter()
                .map(|(pair, usd)| {
                    format!("switchyard_cost_usd_total{{{}}} {usd}\n", self.labels(*pair))
                })
                .collect(),
        );
        for (name, help, map) in [
            (
                "switchyard_request_duration_seconds",
                "Time from request received to last byte sent.",
                &reg.latency,
            ),
            (
                "switchyard_time_to_first_token_seconds",
                "Time from request received to the first content event of a stream.",
                &reg.ttft,
            ),
        ] {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
            let mut pairs: Vec<_> = map.iter().collect();
            pairs.sort_by_key(|(pair, _)| **pair);
            for (pair, h) in pairs {
                let labels = self.labels(*pair);
                let mut cumulative = 0;
                for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                    cumulative += count;
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
                }
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
            }
        }
        let _ = write!(
            out,
            "# HELP switchyard_requests_in_flight Requests being served now.\n# TYPE switchyard_requests_in_flight gauge\nswitchyard_requests_in_flight {}\n",
            self.in_flight()
        );
        out
    }
}

pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_with_configured_names_only() {
        let m = Metrics::new(vec!["chat".into()], vec!["up".into()]);
        m.request_started();
        m.record(&RequestRecord {
            model: 0,
            provider: 0,
            dialect: "openai",
            status: 200,
            error: None,
            latency: Duration::from_millis(3),
            ttft: Some(Duration::from_millis(1)),
            input_tokens: 10,
            output_tokens: 4,
            cost_usd: 0.25,
        });
        m.request_started();
        m.record(&RequestRecord {
            model: NONE,
            provider: NONE,
            dialect: "openai",
            status: 404,
            error: Some("unknown_model"),
            latency: Duration::from_micros(50),
            ttft: None,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
        });
        let text = m.render();
        assert!(text.contains("switchyard_requests_total{model=\"chat\",provider=\"up\",dialect=\"openai\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("switchyard_requests_total{model=\"none\",provider=\"none\",dialect=\"openai\",status=\"404\"} 1"));
        assert!(text.contains(
            "switchyard_errors_total{model=\"none\",provider=\"none\",kind=\"unknown_model\"} 1"
        ));
        assert!(text.contains(
            "switchyard_tokens_total{model=\"chat\",provider=\"up\",direction=\"output\"} 4"
        ));
        assert!(text.contains("switchyard_request_duration_seconds_bucket{model=\"chat\",provider=\"up\",le=\"0.005\"} 1"));
        assert!(text.contains(
            "switchyard_time_to_first_token_seconds_count{model=\"chat\",provider=\"up\"} 1"
        ));
        assert!(text.contains("switchyard_requests_in_flight 0"));
        assert!(
            text.contains("switchyard_cost_usd_total{model=\"chat\",provider=\"up\"} 0.25"),
            "{text}"
        );
    }
}
