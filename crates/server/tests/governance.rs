//! Virtual keys and the usage ledger through the real server: keys from the store are
//! accepted in every dialect's header, unknown, revoked, expired and malformed keys get the
//! same 401, a revocation reaches the server within seconds, a key limited to some models
//! gets a 403 elsewhere, and every answered request leaves exactly one ledger row with the
//! cost the client was told.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod governed;

use std::time::{Duration, Instant};

use governed::{admin, chat, key, setup, ADMIN_TOKEN, PEPPER, VIEWER_TOKEN};
use serde_json::{json, Value};
use switchyard_governance::keys::KeySecret;
use switchyard_store::ledger::LedgerFilter;
use switchyard_store::Store;

#[tokio::test]
async fn virtual_keys_admit_their_callers_and_refuse_everyone_else_alike() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let live = key(&store, "key_live", |_| {}).await;
    let limited = key(&store, "key_limited", |k| {
        k.allowed_models = vec!["chat".into()]
    })
    .await;
    let revoked = key(&store, "key_revoked", |k| k.revoked_at = Some(1)).await;
    let expired = key(&store, "key_expired", |k| k.expires_at = Some(1)).await;
    let s = setup(store).await;

    let (status, body, _) = chat(&s.url, "chat", None).await;
    assert_eq!(
        status, 401,
        "once keys exist, every request needs one: {body}"
    );
    assert!(body.contains("didn't provide an API key"));

    // Unknown, revoked, expired and malformed keys: byte-identical answers.
    let unknown = KeySecret::generate().unwrap();
    let mut bodies = Vec::new();
    for presented in [
        unknown.expose(),
        revoked.expose(),
        expired.expose(),
        "sy_tooshort",
        "sk-some-other-vendor-key",
    ] {
        let (status, body, _) = chat(&s.url, "chat", Some(presented)).await;
        assert_eq!(status, 401);
        assert!(!body.contains(presented), "{body}");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");

    // The live key in each dialect's own header.
    assert_eq!(chat(&s.url, "chat", Some(live.expose())).await.0, 200);
    let client = reqwest::Client::new();
    let anthropic = client
        .post(format!("{}/v1/messages", s.url))
        .header("x-api-key", live.expose())
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "chat", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 200);
    let gemini = client
        .post(format!("{}/v1beta/models/chat:generateContent", s.url))
        .header("x-goog-api-key", live.expose())
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), 200);

    // A key limited to `chat` may not call `other`.
    assert_eq!(chat(&s.url, "chat", Some(limited.expose())).await.0, 200);
    let (status, body, _) = chat(&s.url, "other", Some(limited.expose())).await;
    assert_eq!(status, 403, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"]["code"], "model_not_allowed");

    // Revoked in the store (as another replica or the CLI would): refused within seconds.
    assert!(s.store.revoke_key("key_live").await.unwrap());
    let started = Instant::now();
    loop {
        let (status, _, _) = chat(&s.url, "chat", Some(live.expose())).await;
        if status == 401 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Neither the pepper, nor a key, nor the upstream key shows in metrics.
    let metrics = reqwest::get(format!("{}/metrics", s.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [
        PEPPER,
        live.expose(),
        limited.expose(),
        "sk-upstream-canary",
    ] {
        assert!(!metrics.contains(secret));
    }
    drop(s.governance);
}

#[tokio::test]
async fn each_answered_request_leaves_one_ledger_row_with_its_cost() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let live = key(&store, "key_live", |k| k.tenant_id = None).await;
    let s = setup(store).await;
    let mut told = 0i64;
    for _ in 0..5 {
        let (status, _, cost) = chat(&s.url, "chat", Some(live.expose())).await;
        assert_eq!(status, 200);
        let usd: f64 = cost.unwrap().parse().unwrap();
        told += switchyard_server::pipeline::nano_usd(usd);
    }
    // A refused request (no key) is not usage.
    assert_eq!(chat(&s.url, "chat", None).await.0, 401);
    s.governance.ledger.shutdown(Duration::from_secs(5)).await;
    let rows = s
        .store
        .usage_rows(&LedgerFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert_eq!(row.key_id.as_deref(), Some("key_live"));
        assert_eq!(row.model, "chat");
        assert_eq!(row.deployment.as_deref(), Some("up/gpt-4o-mini"));
        assert_eq!(row.provider.as_deref(), Some("up"));
        assert_eq!(row.jurisdiction.as_deref(), Some("EU"));
        assert_eq!(row.status, 200);
        assert!(row.input_tokens > 0 && row.output_tokens > 0);
    }
    let totals = s
        .store
        .usage_totals(&LedgerFilter::default())
        .await
        .unwrap();
    // Each header carries 8 decimals (0.01 micro-dollar); the ledger keeps nano-dollars.
    assert!(
        (totals.cost_nano_usd - told).abs() <= 5 * 5,
        "{totals:?} vs {told}"
    );
    assert!(totals.cost_nano_usd > 0);
}

#[tokio::test]
async fn a_key_over_its_rate_gets_a_429_with_the_window_in_headers() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let limited = key(&store, "key_rpm", |k| k.rpm = Some(3)).await;
    let s = setup(store).await;
    let client = reqwest::Client::new();
    let send = || {
        client
            .post(format!("{}/v1/chat/completions", s.url))
            .bearer_auth(limited.expose())
            .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    for remaining in ["2", "1", "0"] {
        let resp = send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "3");
        assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], remaining);
    }
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    let after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&after), "{after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("3 requests per minute"));
}

#[tokio::test]
async fn concurrent_requests_never_spend_past_the_budget_and_leave_nothing_reserved() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    // gpt-4o-mini at $0.15 / $0.60 per million; the mock bills 12 + 9 tokens ($0.0000072).
    let budget = 50_000; // nano-dollars: room for about six answers
    let key_secret = key(&store, "key_budget", |k| {
        k.budget_nano_usd = Some(budget);
        k.budget_period = Some("daily".into());
    })
    .await;
    let s = setup(store).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", s.url);
    // Three waves of 40 at once: each wave admits what the open reservations leave room
    // for, and later waves see the earlier ones settled to their real (lower) cost.
    let mut answers = Vec::new();
    for _ in 0..3 {
        let wave = (0..40).map(|_| {
            client
                .post(&url)
                .bearer_auth(key_secret.expose())
                .json(&json!({"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
        });
        answers.extend(futures::future::join_all(wave).await);
    }
    let mut served = 0;
    for answer in answers {
        let resp = answer.unwrap();
        match resp.status().as_u16() {
            200 => served += 1,
            429 => {
                assert!(
                    resp.headers().contains_key("retry-after"),
                    "a daily budget resets"
                );
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["error"]["code"], "budget_exceeded");
            }
            other => panic!("status {other}"),
        }
    }
    let (spent, reserved) = s
        .governance
        .budgets
        .standing("key_budget", switchyard_governance::limits::Period::Daily);
    assert_eq!(reserved, 0, "no reservation left open");
    assert_eq!(spent, served * 7_200);
    // The reservation is a true maximum here, so the budget holds exactly.
    assert!(spent <= budget, "spent {spent} of {budget}");
    assert!(served >= 5, "{served}");
    s.governance.ledger.shutdown(Duration::from_secs(5)).await;
    let ledger = s
        .store
        .usage_totals(&LedgerFilter::default())
        .await
        .unwrap();
    assert_eq!(
        ledger.cost_nano_usd, spent,
        "the ledger holds what was charged"
    );
}

#[tokio::test]
async fn the_admin_api_makes_lists_and_revokes_keys_and_reports_usage() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let s = setup(store).await;
    let admin_url = admin(s.governance.clone()).await;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut request = client.request(method, format!("{admin_url}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };
    use reqwest::Method;

    // Who may do what.
    let resp = call(Method::GET, "/admin/keys", None).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = call(Method::GET, "/admin/keys", Some("not-the-token-at-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = call(Method::POST, "/admin/keys", Some(VIEWER_TOKEN))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = call(Method::POST, "/admin/keys", Some(ADMIN_TOKEN))
        .json(&json!({"name": "x", "rpm": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("rpm:"));
    let resp = call(Method::POST, "/admin/keys", Some(ADMIN_TOKEN))
        .json(&json!({"name": "x", "colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "unknown fields are refused");

    // Create: the secret once, and it works on this server at once.
    let resp = call(Method::POST, "/admin/keys", Some(ADMIN_TOKEN))
        .json(
            &json!({"name": "search", "models": ["chat"], "budget_usd": 12.5,
                      "budget_period": "daily", "rpm": 100, "metadata": {"owner": "ana"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["budget_usd"], "12.500000000");
    assert_eq!(created["metadata"]["owner"], "ana");
    assert_eq!(chat(&s.url, "chat", Some(&secret)).await.0, 200);
    assert_eq!(chat(&s.url, "other", Some(&secret)).await.0, 403);

    // Listing and reading show the prefix, never the secret or its hash.
    let listed = call(Method::GET, "/admin/keys", Some(VIEWER_TOKEN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&secret[..12]) && !listed.contains(&secret[12..]));
    assert!(!listed.contains("hash"));
    let one: Value = call(
        Method::GET,
        &format!("/admin/keys/{id}"),
        Some(VIEWER_TOKEN),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(one["status"], "active");
    assert_eq!(one["rpm"], 100);
    let missing = call(Method::GET, "/admin/keys/key_nope", Some(VIEWER_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Usage, as JSON and as CSV.
    s.governance.ledger.shutdown(Duration::from_secs(5)).await;
    let usage: Value = call(
        Method::GET,
        &format!("/admin/usage?key_id={id}"),
        Some(VIEWER_TOKEN),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    // The answer and the refusal (403) are both recorded; only the answer cost anything.
    assert_eq!(usage["totals"]["requests"], 2);
    assert_eq!(usage["totals"]["cost_usd"], "0.000007200");
    let rows = usage["rows"].as_array().unwrap();
    let answered = rows.iter().find(|r| r["status"] == 200).unwrap();
    assert_eq!(answered["deployment"], "up/gpt-4o-mini");
    assert!(rows.iter().any(|r| r["status"] == 403));
    let csv = call(Method::GET, "/admin/usage?format=csv", Some(VIEWER_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("request_id,time,"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    let bad = call(
        Method::GET,
        "/admin/usage?from=yesterday",
        Some(VIEWER_TOKEN),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);

    // Revoke: refused on this server at once.
    let revoked: Value = call(
        Method::DELETE,
        &format!("/admin/keys/{id}"),
        Some(ADMIN_TOKEN),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(chat(&s.url, "chat", Some(&secret)).await.0, 401);

    // The canary: every column of every key and ledger row (the database's whole content
    // for governance) holds neither secret.
    let dump = format!(
        "{:?}{:?}",
        s.store.list_keys().await.unwrap(),
        s.store
            .usage_rows(&LedgerFilter::default(), 1_000)
            .await
            .unwrap()
    );
    for canary in [
        secret.as_str(),
        &secret[12..],
        PEPPER,
        ADMIN_TOKEN,
        VIEWER_TOKEN,
        "sk-upstream-canary",
    ] {
        assert!(!dump.contains(canary), "the store holds {canary}");
    }

    let openapi: Value = reqwest::get(format!("{admin_url}/admin/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    for path in ["/admin/keys", "/admin/keys/{id}", "/admin/usage"] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
}
