//! Sovereignty policies through the real server: a request under a policy reaches only the
//! upstreams it allows, on the first attempt and on every fallback; with nothing allowed it
//! fails closed with a 403 naming the policy, in the caller's dialect; unknown policy names
//! are refused; route explain shows every candidate's decision.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod governed;

use std::time::Duration;

use common::Gateway;
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

/// The same upstreams and policies, behind virtual keys from a store.
async fn governed_setup(store: switchyard_store::Store) -> (String, MockOpenAi, MockOpenAi) {
    let (us, de) = (
        MockOpenAi::start().await.unwrap(),
        MockOpenAi::start().await.unwrap(),
    );
    let text = format!(
        "[[providers]]\nid = \"us\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"US\"\n\n\
         [[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"us\", model = \"gpt-4o\" }}, {{ provider = \"de\", model = \"llama\" }}]\n\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\"]\n",
        us.base_url(),
        de.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let governance =
        switchyard_governance::Governance::start(store, Some(governed::pepper()), None, None, None)
            .await
            .unwrap();
    let state = switchyard_server::AppState::build_governed(&config, Some(governance)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchyard_server::serve(
        state,
        listener,
        Box::pin(std::future::pending()),
        Duration::from_secs(1),
    ));
    (url, us, de)
}

async fn keyed(url: &str, key: &str) -> (u16, Option<String>) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let deployment = resp
        .headers()
        .get("x-switchyard-deployment")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), deployment)
}

#[tokio::test]
async fn policies_attached_to_keys_and_tenants_hold_their_requests() {
    let store = switchyard_store::Store::open("sqlite::memory:")
        .await
        .unwrap();
    store
        .insert_tenant(&switchyard_store::tenants::TenantRow {
            id: "ten_eu".into(),
            name: "eu corp".into(),
            created_at: 1,
            updated_at: 1,
            policies: vec!["eu-only".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let free = governed::key(&store, "key_free", |_| {}).await;
    let eu_key = governed::key(&store, "key_eu", |k| k.policies = vec!["eu-only".into()]).await;
    let in_tenant = governed::key(&store, "key_tenant", |k| {
        k.tenant_id = Some("ten_eu".into())
    })
    .await;
    let dangling =
        governed::key(&store, "key_dangling", |k| k.policies = vec!["gone".into()]).await;
    let (url, us, _de) = governed_setup(store).await;
    assert_eq!(
        keyed(&url, free.expose()).await.1.as_deref(),
        Some("us/gpt-4o")
    );
    let us_hits = us.request_count();
    assert_eq!(
        keyed(&url, eu_key.expose()).await.1.as_deref(),
        Some("de/llama")
    );
    assert_eq!(
        keyed(&url, in_tenant.expose()).await.1.as_deref(),
        Some("de/llama")
    );
    // A policy the config does not define: nothing is sent anywhere.
    assert_eq!(keyed(&url, dangling.expose()).await, (403, None));
    assert_eq!(us.request_count(), us_hits);
}

struct Setup {
    gateway: Gateway,
    us: MockOpenAi,
    de: MockOpenAi,
}

/// `chat` routes to a US upstream first, then a German one.
async fn setup(extra: &str) -> Setup {
    let (us, de) = (
        MockOpenAi::start().await.unwrap(),
        MockOpenAi::start().await.unwrap(),
    );
    let text = format!(
        "{extra}\n\
         [[providers]]\nid = \"us\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"US\"\noperator = \"OpenAI\"\n\n\
         [[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\noperator = \"Ionos\"\nretention = \"zero\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"us\", model = \"gpt-4o\" }}, {{ provider = \"de\", model = \"llama\" }}]\n\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\", \"CH\"]\n\n\
         [[policies]]\nname = \"on-prem\"\nhosting = [\"on-prem-only\"]\n",
        us.base_url(),
        de.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    Setup {
        gateway: Gateway::serve(&config, Duration::from_secs(5)).await,
        us,
        de,
    }
}

async fn chat(url: &str, policy: Option<&str>) -> (u16, Value, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}));
    if let Some(policy) = policy {
        request = request.header("x-switchyard-policy", policy);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let deployment = resp
        .headers()
        .get("x-switchyard-deployment")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.json().await.unwrap_or(Value::Null), deployment)
}

#[tokio::test]
async fn a_policy_keeps_every_attempt_inside_it_and_fails_closed() {
    let s = setup("").await;
    let url = &s.gateway.url;
    // No policy: priority order, the US upstream.
    assert_eq!(chat(url, None).await.2.as_deref(), Some("us/gpt-4o"));
    // EU only: the German one.
    assert_eq!(
        chat(url, Some("eu-only")).await.2.as_deref(),
        Some("de/llama")
    );
    let us_before = s.us.request_count();
    // The German upstream fails: no fallback to the US one under the policy.
    for _ in 0..3 {
        s.de.push(Reply::error(500, "server_error", "boom", None));
    }
    let (status, body, _) = chat(url, Some("eu-only")).await;
    assert!(status >= 500, "{status} {body}");
    assert_eq!(
        s.us.request_count(),
        us_before,
        "the US upstream never saw it"
    );
    // Without the policy the same failure falls back to the US one.
    s.de.push(Reply::error(500, "server_error", "boom", None));
    let us_first = chat(url, None).await;
    assert_eq!(us_first.0, 200);

    // Nothing on-prem: a 403 naming the policy and each refusal.
    let (status, body, _) = chat(url, Some("on-prem")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "policy_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`on-prem`")
            && message.contains("us/gpt-4o")
            && message.contains("hosting cloud"),
        "{message}"
    );
    // Two policies narrow together: EU only and on-prem only leaves nothing.
    assert_eq!(chat(url, Some("eu-only, on-prem")).await.0, 403);

    // Unknown names are refused, never ignored.
    let (status, body, _) = chat(url, Some("eu-onyl")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("eu-onyl"),
        "{body}"
    );

    // Other dialects get the refusal in their own shape.
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .header("x-switchyard-policy", "on-prem")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1beta/models/chat:generateContent"))
        .header("x-switchyard-policy", "on-prem")
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");

    // Route explain: every candidate's decision under the named policy.
    let explained: Value =
        reqwest::get(format!("{url}/v1/route/explain?model=chat&policy=eu-only"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(explained["policies"][0]["name"], "eu-only");
    let candidates = explained["candidates"].as_array().unwrap();
    let us = candidates
        .iter()
        .find(|c| c["deployment"] == "us/gpt-4o")
        .unwrap();
    assert_eq!(us["policy"]["decision"], "refused");
    assert_eq!(us["policy"]["reason"], "jurisdiction US is outside EU, CH");
    assert_eq!(us["admitted"], false);
    let de = candidates
        .iter()
        .find(|c| c["deployment"] == "de/llama")
        .unwrap();
    assert_eq!(de["policy"]["decision"], "allowed");
    assert_eq!(
        (de["operator"].as_str(), de["retention"].as_str()),
        (Some("Ionos"), Some("zero"))
    );
}

#[tokio::test]
async fn a_default_policy_holds_every_request_and_headers_only_narrow_it() {
    let s = setup("default_policy = \"eu-only\"").await;
    let url = &s.gateway.url;
    for _ in 0..3 {
        assert_eq!(chat(url, None).await.2.as_deref(), Some("de/llama"));
    }
    assert_eq!(s.us.request_count(), 0);
    // A header cannot widen it: naming another policy adds to it.
    assert_eq!(chat(url, Some("on-prem")).await.0, 403);
    assert_eq!(s.us.request_count(), 0);
    assert_eq!(s.de.request_count(), 3);
}
