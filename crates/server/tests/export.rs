//! Request telemetry to OTLP collectors, within each request's policies: two collectors (one
//! tagged DE, one US) receive OTLP/HTTP JSON traces and logs; a request held to `eu-only`
//! reaches only the DE collector, a request with no policy reaches both, a request whose
//! policy is unknown reaches neither; nothing of the prompt or the answer is exported; a
//! collector that is down costs requests nothing and its drops are counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use common::Gateway;
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

/// An OTLP/HTTP collector that keeps every body it is sent, by path.
#[derive(Clone, Default)]
struct Collector {
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Collector {
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let keep = |path: &'static str, c: Collector| {
            post(move |headers: http::HeaderMap, body: String| {
                let c = c.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/json");
                    assert_eq!(headers["authorization"], "Bearer collector-token");
                    let value: Value = serde_json::from_str(&body).unwrap();
                    c.got.lock().unwrap().push((path.to_owned(), value));
                    "{}"
                }
            })
        };
        let app = axum::Router::new()
            .route("/v1/traces", keep("traces", collector.clone()))
            .route("/v1/logs", keep("logs", collector.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (collector, url)
    }

    /// The request ids in every span (traces) or log record (logs) received.
    fn request_ids(&self, path: &str) -> Vec<String> {
        let got = self.got.lock().unwrap();
        let mut out = Vec::new();
        for (p, body) in got.iter().filter(|(p, _)| p == path) {
            let (outer, inner, items) = if p == "traces" {
                ("resourceSpans", "scopeSpans", "spans")
            } else {
                ("resourceLogs", "scopeLogs", "logRecords")
            };
            for item in body[outer][0][inner][0][items].as_array().unwrap() {
                let attrs = item["attributes"].as_array().unwrap();
                let id = attrs
                    .iter()
                    .find(|a| a["key"] == "switchyard.request_id")
                    .unwrap();
                out.push(id["value"]["stringValue"].as_str().unwrap().to_owned());
            }
        }
        out
    }

    fn raw(&self) -> String {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, v)| v.to_string())
            .collect()
    }
}

async fn chat(gw: &Gateway, policy: Option<&str>, text: &str) -> (u16, String) {
    let mut request = gw.post(
        "/v1/chat/completions",
        json!({"model": "chat", "messages": [{"role": "user", "content": text}]}),
    );
    if let Some(policy) = policy {
        request = request.header("x-switchyard-policy", policy);
    }
    let resp = request.send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    (resp.status().as_u16(), id)
}

#[tokio::test]
async fn each_request_is_exported_only_where_its_policies_allow() {
    let (eu, eu_url) = Collector::start().await;
    let (us, us_url) = Collector::start().await;
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"de\", model = \"gpt-4o-mini\" }}]\n\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\"]\n\n\
         [[exporters]]\nname = \"otel-eu\"\nendpoint = \"{eu_url}/\"\njurisdiction = \"DE\"\n\
         headers = {{ authorization = \"Bearer ${{OTEL_TOKEN}}\" }}\n\n\
         [[exporters]]\nname = \"otel-us\"\nendpoint = \"{us_url}\"\njurisdiction = \"US\"\n\
         headers = {{ authorization = \"Bearer ${{OTEL_TOKEN}}\" }}\n\n\
         [[exporters]]\nname = \"down\"\nendpoint = \"http://127.0.0.1:9\"\njurisdiction = \"DE\"\nsignals = [\"logs\"]\n",
        mock.base_url()
    );
    let env = |name: &str| (name == "OTEL_TOKEN").then(|| "collector-token".to_owned());
    let config = switchyard_config::load_str(&text, &env).unwrap();
    let gw = Gateway::serve(&config, Duration::from_secs(5)).await;

    let mut held = Vec::new();
    let mut open = Vec::new();
    for i in 0..6 {
        mock.push(Reply::text("secret answer text"));
        let (status, id) = chat(&gw, Some("eu-only"), &format!("private prompt {i}")).await;
        assert_eq!(status, 200);
        held.push(id);
        mock.push(Reply::text("secret answer text"));
        let (status, id) = chat(&gw, None, &format!("private prompt {i}")).await;
        assert_eq!(status, 200);
        open.push(id);
    }
    let (status, unknown) = chat(&gw, Some("no-such-policy"), "private prompt").await;
    assert_eq!(status, 400);

    // Batches leave within a fraction of a second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (eu.request_ids("logs").len() < 12 || us.request_ids("logs").len() < 6)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for path in ["traces", "logs"] {
        let at_eu = eu.request_ids(path);
        let at_us = us.request_ids(path);
        for id in &held {
            assert!(
                at_eu.contains(id),
                "{path}: {id} missing at the EU collector"
            );
            assert!(
                !at_us.contains(id),
                "{path}: {id} held to eu-only reached the US collector"
            );
        }
        for id in &open {
            assert!(at_eu.contains(id) && at_us.contains(id), "{path}: {id}");
        }
        assert!(!at_eu.contains(&unknown) && !at_us.contains(&unknown));
        assert_eq!(at_eu.len(), 12, "{path}");
        assert_eq!(at_us.len(), 6, "{path}");
    }
    // Metadata only: the prompt and the answer never leave; the span says what happened.
    for c in [&eu, &us] {
        let raw = c.raw();
        assert!(!raw.contains("private prompt") && !raw.contains("secret answer"));
        assert!(!raw.contains("collector-token"));
    }
    let traces = eu
        .got
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == "traces")
        .unwrap()
        .1
        .clone();
    let span = &traces["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
    assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    assert_eq!(span["kind"], 2);
    assert_eq!(span["status"]["code"], 1);
    let attrs = span["attributes"].to_string();
    assert!(attrs.contains("\"switchyard.jurisdiction\""), "{attrs}");
    assert!(attrs.contains("de/gpt-4o-mini"), "{attrs}");

    // The counts: withheld by policy at the US collector, dropped at the dead one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let text = reqwest::get(format!("{}/metrics", gw.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("exporter=\"down\",outcome=\"dropped\"} 12")
            || tokio::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        metrics.contains(
            "switchyard_export_records_total{exporter=\"otel-us\",outcome=\"withheld\"} 7"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("switchyard_export_records_total{exporter=\"otel-eu\",outcome=\"sent\"} 12"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("switchyard_export_records_total{exporter=\"down\",outcome=\"dropped\"} 12"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_collector_that_redirects_is_not_followed() {
    // The DE collector answers every export with a 307 to a collector abroad.
    let (abroad, abroad_url) = Collector::start().await;
    let redirect = {
        let to = abroad_url.clone();
        axum::Router::new().fallback(move |uri: http::Uri| {
            let to = to.clone();
            async move {
                (
                    http::StatusCode::TEMPORARY_REDIRECT,
                    [(http::header::LOCATION, format!("{to}{}", uri.path()))],
                )
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirect).await });
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"de\", model = \"gpt-4o-mini\" }}]\n\n\
         [[exporters]]\nname = \"otel-de\"\nendpoint = \"{redirect_url}\"\njurisdiction = \"DE\"\n\
         headers = {{ authorization = \"Bearer ${{OTEL_TOKEN}}\" }}\n",
        mock.base_url()
    );
    let env = |name: &str| (name == "OTEL_TOKEN").then(|| "collector-token".to_owned());
    let config = switchyard_config::load_str(&text, &env).unwrap();
    let gw = Gateway::serve(&config, Duration::from_secs(5)).await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, None, "hello").await.0, 200);
    }
    // The refused exports are counted as dropped; nothing reached the other collector.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(format!("{}/metrics", gw.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("exporter=\"otel-de\",outcome=\"dropped\"} 3") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        abroad.got.lock().unwrap().is_empty(),
        "a redirect was followed"
    );
}
