//! Routing through the real server with fault injection: the circuit breaker ejects a
//! failing deployment and lets one probe through after its cool-down, an upstream 429 cools
//! its deployment for the Retry-After it gave, weighted routes follow their weights, and a
//! request with tools never reaches a deployment the catalog knows cannot call tools.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

mod common;
use common::Gateway;

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

async fn gateway(models: &str, routing: &str) -> (MockOpenAi, MockOpenAi, Gateway) {
    gateway_with("openai", models, routing).await
}

/// Deployment `a` on an upstream of type `kind_a`, `b` on an OpenAI one.
async fn gateway_with(
    kind_a: &str,
    models: &str,
    routing: &str,
) -> (MockOpenAi, MockOpenAi, Gateway) {
    let (a, b) = (
        MockOpenAi::start().await.unwrap(),
        MockOpenAi::start().await.unwrap(),
    );
    let text = format!(
        "{routing}\n[[providers]]\nid = \"a\"\ntype = \"{kind_a}\"\nbase_url = \"{}\"\napi_key = \"k\"\n\n\
         [[providers]]\nid = \"b\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"k\"\n\n{models}",
        a.base_url(),
        b.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_millis(500)).await;
    (a, b, gw)
}

#[tokio::test]
async fn a_failing_deployment_is_ejected_until_its_probe_succeeds() {
    let (a, b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }, { provider = \"b\", model = \"gpt-4o-mini\" }]\n",
        "[routing]\nbreaker_failures = 2\nbreaker_open_s = 0.4",
    )
    .await;
    for _ in 0..2 {
        a.push(Reply::error(500, "server_error", "boom", None));
        let resp = gw
            .post("/v1/chat/completions", chat("m"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "served by the fallback");
        assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
    }
    assert_eq!(a.request_count(), 2);
    // Ejected: no traffic at all to `a` while its breaker is open.
    for _ in 0..5 {
        let resp = gw
            .post("/v1/chat/completions", chat("m"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-switchyard-provider"], "b");
        assert_eq!(resp.headers()["x-switchyard-attempts"], "1");
    }
    assert_eq!(a.request_count(), 2, "the ejected deployment got nothing");
    let explained: Value = reqwest::get(format!("{}/v1/route/explain?model=m", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(explained["strategy"], "priority");
    let candidates = explained["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["deployment"], "b/gpt-4o-mini");
    assert_eq!(candidates[0]["admitted"], true);
    assert_eq!(candidates[1]["deployment"], "a/gpt-4o-mini");
    assert_eq!(candidates[1]["admitted"], false);
    assert!(
        candidates[1]["reason"]
            .as_str()
            .unwrap()
            .contains("ejected"),
        "{explained}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    // One probe; it succeeds, the breaker closes, `a` is first again.
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-switchyard-provider"], "a");
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-switchyard-provider"], "a");
    assert_eq!(a.request_count(), 4);
    assert_eq!(b.request_count(), 7);
}

#[tokio::test]
async fn an_upstream_429_cools_its_deployment_for_the_retry_after() {
    let (a, _b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }]\n",
        "",
    )
    .await;
    a.push(Reply::error(429, "requests", "slow down", Some("1")));
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    // Cooling down: answered at once, without calling the upstream, with what is left.
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let after: f64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after <= 1.0 && after > 0.0, "{after}");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("rate-limited"));
    assert_eq!(a.request_count(), 1);
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn weighted_routes_follow_their_weights() {
    let (a, b, gw) = gateway(
        "[[models]]\nname = \"m\"\nstrategy = \"weighted\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\", weight = 3 }, { provider = \"b\", model = \"gpt-4o-mini\", weight = 1 }]\n",
        "",
    )
    .await;
    // 10,000 requests through the server, 16 at a time.
    let n = 10_000;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", gw.url);
    let statuses: Vec<u16> = futures::stream::iter(0..n)
        .map(|_| {
            let request = client.post(&url).json(&chat("m"));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    let share = a.request_count() as f64 / n as f64;
    assert_eq!(a.request_count() + b.request_count(), n);
    // 75 % expected; the standard deviation of the share over 10,000 draws is 0.43 points,
    // so 3 points is seven of them.
    assert!((share - 0.75).abs() < 0.03, "{share}");
}

#[tokio::test]
async fn tools_never_reach_a_deployment_without_tool_calling() {
    let (a, b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"deepseek-reasoner\" }, { provider = \"b\", model = \"gpt-4o-mini\" }]\n\n\
         [[models]]\nname = \"only-reasoner\"\nroute = [{ provider = \"a\", model = \"deepseek-reasoner\" }]\n",
        "",
    )
    .await;
    let mut body = chat("m");
    body["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let resp = gw
        .post("/v1/chat/completions", body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "b");
    assert_eq!(a.request_count(), 0);
    // Without tools, the first deployment serves.
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-switchyard-provider"], "a");
    // No deployment can: a 400 naming why.
    body["model"] = json!("only-reasoner");
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no tool calling"),
        "{err}"
    );
    assert_eq!(b.request_count(), 1);
    let explained: Value = reqwest::get(format!("{}/v1/route/explain?model=m&tools=true", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidates = explained["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["deployment"], "b/gpt-4o-mini");
    assert_eq!(candidates[1]["reason"], "skipped: no tool calling");
    let resp = reqwest::get(format!("{}/v1/route/explain?model=nope", gw.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = reqwest::get(format!("{}/v1/route/explain?model=m&tools=maybe", gw.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn retries_are_bounded_backed_off_and_only_for_safe_failures() {
    let (a, _b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }]\n",
        "[routing]\nmax_retries = 2\nretry_backoff_s = 0.05\nbreaker_failures = 100\n\n[timeouts]\nfirst_byte_s = 0.3",
    )
    .await;
    // One 503, then the upstream recovers: served on the second attempt.
    a.push(Reply::error(503, "server_error", "busy", None));
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
    assert_eq!(a.request_count(), 2);

    // Failing every time: 1 + max_retries attempts, then the error.
    for _ in 0..5 {
        a.push(Reply::error(500, "server_error", "boom", None));
    }
    let started = std::time::Instant::now();
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(a.request_count(), 5, "three attempts");
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "backed off between attempts"
    );
    // Drain the two unused replies.
    for _ in 0..2 {
        gw.post("/v1/chat/completions", chat("m"))
            .send()
            .await
            .unwrap();
    }

    // A client error is never retried.
    let before = a.request_count();
    a.push(Reply::error(400, "invalid_request_error", "bad", None));
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(a.request_count(), before + 1);

    // A hung upstream is not waited out twice: one timeout, then the error.
    let before = a.request_count();
    a.push(Reply::Hang);
    let started = std::time::Instant::now();
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(300 + 1_000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.request_count(), before + 1);
}

#[tokio::test]
async fn auto_picks_the_cheapest_deployment_that_meets_the_request_and_the_tier() {
    let models = "[[models]]\nname = \"premium\"\nroute = [{ provider = \"a\", model = \"gpt-4o\" }]\n\n\
                  [[models]]\nname = \"cheap\"\nroute = [{ provider = \"b\", model = \"gpt-4o-mini\" }, { provider = \"b\", model = \"my-finetune\" }]\n";
    let (a, b, gw) = gateway(models, "[auto]\nmin_tier = 2").await;
    let resp = gw
        .post("/v1/chat/completions", chat("auto"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-deployment"], "b/gpt-4o-mini");
    // The mock bills 12 prompt and 9 completion tokens; gpt-4o-mini costs $0.15 / $0.60
    // per million.
    assert_eq!(resp.headers()["x-switchyard-cost-usd"], "0.00000720");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["model"], "gpt-4o-mini",
        "the answer names the model that served it"
    );
    assert_eq!((a.request_count(), b.request_count()), (0, 1));
    let explained: Value = reqwest::get(format!("{}/v1/route/explain?model=auto", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(explained["strategy"], "cheapest");
    let reasons: Vec<&str> = explained["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].starts_with("expected cost"), "{reasons:?}");
    assert!(
        reasons.contains(&"skipped: quality tier unknown"),
        "{reasons:?}"
    );

    // A higher floor leaves only the tier-4 model.
    let (a, _b, gw) = gateway(models, "[auto]\nname = \"best-value\"\nmin_tier = 4").await;
    let resp = gw
        .post("/v1/chat/completions", chat("best-value"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-switchyard-deployment"], "a/gpt-4o");
    assert_eq!(a.request_count(), 1);
}

async fn health_of(gw: &Gateway, deployment: &str) -> Value {
    let all: Value = reqwest::get(format!("{}/v1/route/health", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment"] == deployment)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_deployment_shared_by_two_models_has_one_health() {
    let (a, _b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }, { provider = \"b\", model = \"gpt-4o-mini\" }]\n\n\
         [[models]]\nname = \"only-a\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }]\n",
        "[routing]\nbreaker_failures = 1\nbreaker_open_s = 60",
    )
    .await;
    a.push(Reply::error(500, "server_error", "boom", None));
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-switchyard-provider"], "b");
    // Ejected through `m`, so `only-a` does not send it traffic either.
    let resp = gw
        .post("/v1/chat/completions", chat("only-a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(a.request_count(), 1);
    let health = health_of(&gw, "a/gpt-4o-mini").await;
    assert_eq!(health["status"], "ejected");
    assert_eq!(health["models"], json!(["m", "only-a"]));
    assert!(health["retry_in_s"].as_f64().unwrap() > 50.0);
    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("switchyard_deployment_state{deployment=\"a/"))
        .collect();
    assert_eq!(
        series,
        ["switchyard_deployment_state{deployment=\"a/gpt-4o-mini\",provider=\"a\"} 1"]
    );
}

/// Requests a mock got from clients, not from health checks.
fn client_requests(mock: &MockOpenAi) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.json()["messages"][0]["content"] != "ping")
        .count()
}

#[tokio::test]
async fn active_health_checks_eject_and_restore_a_deployment_without_client_traffic() {
    let (a, b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"b\", model = \"gpt-4o-mini\" }]\n\n\
         [[models]]\nname = \"other\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }]\n",
        "[routing]\nbreaker_failures = 2\nbreaker_open_s = 60\nhealth_check_interval_s = 0.2",
    )
    .await;
    for _ in 0..4 {
        b.push(Reply::error(503, "server_error", "down", None));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while health_of(&gw, "b/gpt-4o-mini").await["status"] != "ejected" {
        assert!(std::time::Instant::now() < deadline, "never ejected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(client_requests(&b), 0, "ejected by checks alone");
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(client_requests(&b), 0, "no client traffic while ejected");
    // The breaker would stay open for a minute; a passing check brings it back at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let health = health_of(&gw, "b/gpt-4o-mini").await;
        if health["status"] == "healthy" {
            assert_eq!(health["last_check"]["ok"], true);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never restored: {health}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Checks are one-token requests to every remote deployment.
    let ping = a.requests().into_iter().next().unwrap().json();
    assert_eq!(ping["max_completion_tokens"], 1, "{ping}");
    assert_eq!(
        health_of(&gw, "a/gpt-4o-mini").await["last_check"]["ok"],
        true
    );
}

#[tokio::test]
async fn a_streamed_answer_reports_its_cost_at_the_end() {
    let (_a, _b, gw) = gateway(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"gpt-4o-mini\" }]\n",
        "",
    )
    .await;
    let mut body = chat("m");
    body["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-deployment"], "a/gpt-4o-mini");
    let text = resp.text().await.unwrap();
    let comment = text
        .lines()
        .find_map(|l| l.strip_prefix(": x-switchyard-cost-usd="))
        .unwrap_or_else(|| panic!("no cost comment: {text}"));
    let cost: f64 = comment.parse().unwrap();
    assert!(cost > 0.0, "{cost}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let total: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_cost_usd_total{model=\"m\",provider=\"a\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((total - cost).abs() < 1e-8, "{total} vs {cost}");
}

#[test]
fn a_reload_keeps_the_health_of_deployments_that_stay_the_same() {
    let text = |url: &str| {
        format!(
            "[[providers]]\nid = \"a\"\ntype = \"openai\"\nbase_url = \"{url}\"\n\n\
             [[models]]\nname = \"m\"\nroute = [{{ provider = \"a\", model = \"x\" }}]\n"
        )
    };
    let load = |t: &str| switchyard_config::load_str(t, &|_| None).unwrap();
    let first = switchyard_server::AppState::build(&load(&text("http://127.0.0.1:9/v1"))).unwrap();
    let breaker = first.inner.breaker;
    first
        .inner
        .with_health(0, 0, |h| h.on_failure(0, None, &breaker));
    let failures = |s: &switchyard_server::AppState| s.inner.health_snapshot(0)[0].breaker;
    let same = switchyard_server::AppState::rebuild(&load(&text("http://127.0.0.1:9/v1")), &first)
        .unwrap();
    assert_eq!(failures(&same), failures(&first));
    assert_ne!(same.inner.health_snapshot(0)[0], Default::default());
    let moved =
        switchyard_server::AppState::rebuild(&load(&text("http://127.0.0.1:10/v1")), &first)
            .unwrap();
    assert_eq!(
        moved.inner.health_snapshot(0)[0],
        Default::default(),
        "a deployment at a new address starts fresh"
    );
}

/// A gateway with deployment `a` on an Anthropic upstream and `b` on an OpenAI one.
async fn anthropic_and_openai(models: &str) -> (MockOpenAi, MockOpenAi, Gateway) {
    gateway_with("anthropic", models, "").await
}

#[tokio::test]
async fn a_request_the_first_deployment_cannot_take_is_served_by_the_next() {
    let (a, b, gw) = anthropic_and_openai(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"claude-sonnet-4-5\" }, { provider = \"b\", model = \"gpt-4o-mini\" }]\n",
    )
    .await;
    // Anthropic has no frequency_penalty: the first deployment's adapter refuses the request
    // before sending anything, and the second serves it, as its first attempt.
    let mut body = chat("m");
    body["frequency_penalty"] = json!(0.5);
    for stream in [false, true] {
        body["stream"] = json!(stream);
        let resp = gw
            .post("/v1/chat/completions", body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "stream {stream}");
        assert_eq!(resp.headers()["x-switchyard-provider"], "b");
        assert_eq!(resp.headers()["x-switchyard-attempts"], "1");
        resp.bytes().await.unwrap();
    }
    assert_eq!(
        a.request_count(),
        0,
        "nothing was sent to the incapable one"
    );
    assert_eq!(b.request_count(), 2);
    // A request both can take still goes to the first.
    let resp = gw
        .post("/v1/chat/completions", chat("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "a");
    // Embeddings: Anthropic has none, so the route's OpenAI deployment embeds.
    let resp = gw
        .post("/v1/embeddings", json!({"model": "m", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "b");
}

#[tokio::test]
async fn a_request_no_deployment_can_take_names_each_ones_reason() {
    let (a, b, gw) = anthropic_and_openai(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"a\", model = \"claude-sonnet-4-5\" }, { provider = \"b\", model = \"gpt-4o-mini\" }]\n",
    )
    .await;
    // Anthropic takes no penalties; this OpenAI host takes no repetition_penalty.
    let mut body = chat("m");
    body["frequency_penalty"] = json!(0.5);
    body["repetition_penalty"] = json!(1.1);
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("a/claude-sonnet-4-5: "), "{message}");
    assert!(message.contains("frequency_penalty"), "{message}");
    assert!(message.contains("b/gpt-4o-mini: "), "{message}");
    assert!(message.contains("repetition_penalty"), "{message}");
    assert_eq!(a.request_count() + b.request_count(), 0);
}

#[tokio::test]
async fn counting_skips_deployments_that_cannot_count_even_when_first() {
    let (a, b, gw) = anthropic_and_openai(
        "[[models]]\nname = \"m\"\nroute = [{ provider = \"b\", model = \"gpt-4o-mini\" }, { provider = \"a\", model = \"claude-sonnet-4-5\" }]\n",
    )
    .await;
    let resp = gw
        .post(
            "/v1/messages/count_tokens",
            json!({"model": "m", "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "a");
    assert_eq!(resp.headers()["x-switchyard-attempts"], "1");
    assert_eq!(b.request_count(), 0);
    assert_eq!(a.request_count(), 1);
    // Route explain says why, for the operation asked about.
    let explained: Value = reqwest::get(format!(
        "{}/v1/route/explain?model=m&operation=count_tokens",
        gw.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let candidates = explained["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["deployment"], "a/claude-sonnet-4-5");
    assert_eq!(candidates[0]["admitted"], true);
    assert_eq!(candidates[1]["deployment"], "b/gpt-4o-mini");
    assert_eq!(candidates[1]["admitted"], false);
    let reason = candidates[1]["reason"].as_str().unwrap();
    assert!(reason.contains("no token-counting API"), "{reason}");
    let resp = reqwest::get(format!(
        "{}/v1/route/explain?model=m&operation=dance",
        gw.url
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
}
