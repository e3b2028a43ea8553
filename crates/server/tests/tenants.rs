//! Tenants through the real server and its admin API: a key under a team is held to its own,
//! its team's and its organisation's limits at once (each refusal names the one that
//! refused), per-model limits, budgets over a whole organisation, disabling a tenant, and the
//! `tenant-admin` role seeing and changing its own tenant only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod governed;

use std::time::Duration;

use governed::{admin, chat, setup, ADMIN_TOKEN, PEPPER, VIEWER_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};
use switchyard_store::ledger::LedgerFilter;
use switchyard_store::Store;

/// `method path` on the admin API with `token`; status and JSON body.
async fn call(
    base: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Creates a key through the admin API; its id and secret.
async fn make_key(base: &str, token: &str, body: Value) -> (String, String) {
    let (status, made) = call(base, Method::POST, "/admin/keys", token, Some(body)).await;
    assert_eq!(status, 201, "{made}");
    (
        made["id"].as_str().unwrap().into(),
        made["key"].as_str().unwrap().into(),
    )
}

async fn make_tenant(base: &str, token: &str, body: Value) -> String {
    let (status, made) = call(base, Method::POST, "/admin/tenants", token, Some(body)).await;
    assert_eq!(status, 201, "{made}");
    made["id"].as_str().unwrap().into()
}

fn message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_team_key_is_held_to_its_own_its_teams_and_its_organisations_limits() {
    let s = setup(Store::open("sqlite::memory:").await.unwrap()).await;
    let base = admin(s.governance.clone()).await;
    let acme = make_tenant(&base, ADMIN_TOKEN, json!({"name": "acme", "rpm": 4})).await;
    let search = make_tenant(
        &base,
        ADMIN_TOKEN,
        json!({"name": "search", "parent_id": acme, "rpm": 3}),
    )
    .await;
    let (_, a) = make_key(
        &base,
        ADMIN_TOKEN,
        json!({"name": "a", "tenant_id": search}),
    )
    .await;
    let (_, b) = make_key(
        &base,
        ADMIN_TOKEN,
        json!({"name": "b", "tenant_id": search}),
    )
    .await;
    let (c_id, c) = make_key(&base, ADMIN_TOKEN, json!({"name": "c", "tenant_id": acme})).await;

    assert_eq!(chat(&s.url, "chat", Some(&a)).await.0, 200);
    assert_eq!(chat(&s.url, "chat", Some(&a)).await.0, 200);
    assert_eq!(chat(&s.url, "chat", Some(&b)).await.0, 200);
    // The team's 3 a minute are used, by two keys together.
    let (status, body, _) = chat(&s.url, "chat", Some(&b)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        message(&body).contains("team `search`: 3 requests per minute"),
        "{body}"
    );
    // The organisation has one left, for a key outside the team.
    assert_eq!(chat(&s.url, "chat", Some(&c)).await.0, 200);
    let (status, body, _) = chat(&s.url, "chat", Some(&c)).await;
    assert_eq!(status, 429);
    assert!(
        message(&body).contains("organisation `acme`: 4 requests per minute"),
        "{body}"
    );
    // Refused requests were not counted anywhere: lifting the organisation's limit leaves the
    // team's window as it was (3 used), so `c` passes and `a` is still refused by the team.
    let (status, _) = call(
        &base,
        Method::PATCH,
        &format!("/admin/tenants/{acme}"),
        ADMIN_TOKEN,
        Some(json!({"rpm": null})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(chat(&s.url, "chat", Some(&c)).await.0, 200);
    assert_eq!(chat(&s.url, "chat", Some(&a)).await.0, 429);

    // A key's own per-model limit.
    let (status, changed) = call(
        &base,
        Method::PATCH,
        &format!("/admin/keys/{c_id}"),
        ADMIN_TOKEN,
        Some(json!({"model_limits": {"other": {"rpm": 1}}})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["model_limits"]["other"]["rpm"], 1);
    assert_eq!(chat(&s.url, "other", Some(&c)).await.0, 200);
    let (status, body, _) = chat(&s.url, "other", Some(&c)).await;
    assert_eq!(status, 429);
    assert!(
        message(&body).contains("key `c` for model `other`: 1 requests"),
        "{body}"
    );
    assert_eq!(
        chat(&s.url, "chat", Some(&c)).await.0,
        200,
        "other models are not limited"
    );

    // Disabling the team stops its keys at once, with the same 401 as an unknown key.
    let (status, team) = call(
        &base,
        Method::DELETE,
        &format!("/admin/tenants/{search}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!((status, team["status"].as_str()), (200, Some("disabled")));
    let unknown = chat(&s.url, "chat", Some("sy_0000000000000000000000000000")).await;
    let refused = chat(&s.url, "chat", Some(&b)).await;
    assert_eq!((refused.0, &refused.1), (401, &unknown.1));
    assert_eq!(
        chat(&s.url, "chat", Some(&c)).await.0,
        200,
        "the organisation's own keys still work"
    );
    // And a disabled team takes no new keys.
    let (status, _) = call(
        &base,
        Method::POST,
        "/admin/keys",
        ADMIN_TOKEN,
        Some(json!({"name": "late", "tenant_id": search})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_organisation_budget_covers_every_team_and_key_under_it() {
    let s = setup(Store::open("sqlite::memory:").await.unwrap()).await;
    let base = admin(s.governance.clone()).await;
    // Each answer costs $0.0000072; the reservation (10 output tokens) a little more.
    let org = make_tenant(
        &base,
        ADMIN_TOKEN,
        json!({"name": "beta", "budget_usd": 0.00005, "budget_period": "daily"}),
    )
    .await;
    let one = make_tenant(&base, ADMIN_TOKEN, json!({"name": "one", "parent_id": org})).await;
    let two = make_tenant(&base, ADMIN_TOKEN, json!({"name": "two", "parent_id": org})).await;
    let (_, k1) = make_key(&base, ADMIN_TOKEN, json!({"name": "k1", "tenant_id": one})).await;
    let (_, k2) = make_key(&base, ADMIN_TOKEN, json!({"name": "k2", "tenant_id": two})).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", s.url);
    let mut served = 0i64;
    let mut refused = 0;
    for wave in 0..4 {
        let sends = (0..10).map(|i| {
            client
                .post(&url)
                .bearer_auth(if (i + wave) % 2 == 0 { &k1 } else { &k2 })
                .json(&json!({"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
        });
        for resp in futures::future::join_all(sends).await {
            let resp = resp.unwrap();
            match resp.status().as_u16() {
                200 => served += 1,
                429 => {
                    refused += 1;
                    let body: Value = resp.json().await.unwrap();
                    assert_eq!(body["error"]["code"], "budget_exceeded");
                    assert!(
                        body["error"]["message"]
                            .as_str()
                            .unwrap()
                            .contains("organisation `beta`"),
                        "{body}"
                    );
                }
                other => panic!("status {other}"),
            }
        }
    }
    assert!(
        refused > 0 && served >= 5,
        "served {served}, refused {refused}"
    );
    let spent = served * 7_200;
    assert!(spent <= 50_000, "spent {spent}");
    assert_eq!(
        s.governance.budgets.standing(
            &format!("t:{org}"),
            switchyard_governance::limits::Period::Daily
        ),
        (spent, 0),
        "nothing left reserved"
    );
    // The organisation's spend, read back through the admin API, covers both teams.
    s.governance.ledger.shutdown(Duration::from_secs(5)).await;
    let (_, shown) = call(
        &base,
        Method::GET,
        &format!("/admin/tenants/{org}"),
        VIEWER_TOKEN,
        None,
    )
    .await;
    assert_eq!(shown["spend"]["cost_usd"], format!("0.{spent:09}"));
    assert_eq!(shown["spend"]["period"], "daily");
    let (_, usage) = call(
        &base,
        Method::GET,
        &format!("/admin/usage?tenant_id={org}"),
        VIEWER_TOKEN,
        None,
    )
    .await;
    assert_eq!(usage["totals"]["cost_usd"], format!("0.{spent:09}"));
    let (_, usage) = call(
        &base,
        Method::GET,
        &format!("/admin/usage?tenant_id={one}"),
        VIEWER_TOKEN,
        None,
    )
    .await;
    assert!(usage["totals"]["requests"].as_i64().unwrap() < served + refused);
    assert_eq!(
        s.mock.request_count() as i64,
        served,
        "the upstream saw only admitted requests"
    );
}

#[tokio::test]
async fn a_tenant_admin_manages_its_own_tenant_and_sees_nothing_else() {
    let s = setup(Store::open("sqlite::memory:").await.unwrap()).await;
    let base = admin(s.governance.clone()).await;
    let x = make_tenant(
        &base,
        ADMIN_TOKEN,
        json!({"name": "x-corp", "budget_usd": 100}),
    )
    .await;
    let y = make_tenant(&base, ADMIN_TOKEN, json!({"name": "y-corp"})).await;
    let (y_key, _) = make_key(&base, ADMIN_TOKEN, json!({"name": "y-app", "tenant_id": y})).await;

    // Only the admin makes tenant admin tokens.
    let (status, _) = call(
        &base,
        Method::POST,
        &format!("/admin/tenants/{x}/tokens"),
        VIEWER_TOKEN,
        Some(json!({"name": "t"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, made) = call(
        &base,
        Method::POST,
        &format!("/admin/tenants/{x}/tokens"),
        ADMIN_TOKEN,
        Some(json!({"name": "x admins"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let ta = made["token"].as_str().unwrap().to_owned();
    let token_id = made["id"].as_str().unwrap().to_owned();
    assert!(ta.starts_with("sya_"));
    assert_eq!(made["role"], "tenant-admin");
    let (status, _) = call(
        &base,
        Method::POST,
        &format!("/admin/tenants/{x}/tokens"),
        &ta,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "a tenant admin makes no tokens");
    // A tenant admin token is no inference key.
    assert_eq!(chat(&s.url, "chat", Some(&ta)).await.0, 401);

    // Teams under its own organisation only.
    let team = make_tenant(&base, &ta, json!({"name": "x-search", "rpm": 10})).await;
    let (status, _) = call(
        &base,
        Method::POST,
        "/admin/tenants",
        &ta,
        Some(json!({"name": "sneaky", "parent_id": y})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, listed) = call(&base, Method::GET, "/admin/tenants", &ta, None).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [x.as_str(), team.as_str()]);
    let (_, listed) = call(&base, Method::GET, "/admin/tenants", VIEWER_TOKEN, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);

    // Keys: its own tenant by default, or one of its teams; never elsewhere.
    let (x_key, x_secret) = make_key(&base, &ta, json!({"name": "x-app"})).await;
    let (_, made) = call(
        &base,
        Method::GET,
        &format!("/admin/keys/{x_key}"),
        &ta,
        None,
    )
    .await;
    assert_eq!(made["tenant_id"], x);
    make_key(
        &base,
        &ta,
        json!({"name": "x-search-app", "tenant_id": team}),
    )
    .await;
    let (status, _) = call(
        &base,
        Method::POST,
        "/admin/keys",
        &ta,
        Some(json!({"name": "n", "tenant_id": y})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(chat(&s.url, "chat", Some(&x_secret)).await.0, 200);
    let (_, keys) = call(&base, Method::GET, "/admin/keys", &ta, None).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 2);
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"rpm": 1}))),
        (Method::DELETE, None),
    ] {
        let (status, _) = call(&base, method, &format!("/admin/keys/{y_key}"), &ta, body).await;
        assert_eq!(status, 404, "another tenant's key does not exist for it");
    }
    let (status, _) = call(
        &base,
        Method::PATCH,
        &format!("/admin/keys/{x_key}"),
        &ta,
        Some(json!({"tenant_id": y})),
    )
    .await;
    assert_eq!(status, 403, "nor can it move a key out");

    // Its teams' limits yes, its own tenant's no; another tenant is not there.
    let (status, t) = call(
        &base,
        Method::PATCH,
        &format!("/admin/tenants/{team}"),
        &ta,
        Some(json!({"rpm": 20, "budget_usd": 5})),
    )
    .await;
    assert_eq!((status, t["rpm"].as_i64()), (200, Some(20)));
    let (status, _) = call(
        &base,
        Method::PATCH,
        &format!("/admin/tenants/{x}"),
        &ta,
        Some(json!({"budget_usd": 1e6})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &base,
        Method::GET,
        &format!("/admin/tenants/{y}"),
        &ta,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Usage: its own tenant's rows only.
    s.governance.ledger.shutdown(Duration::from_secs(5)).await;
    let (status, _) = call(
        &base,
        Method::GET,
        &format!("/admin/usage?tenant_id={y}"),
        &ta,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, usage) = call(&base, Method::GET, "/admin/usage", &ta, None).await;
    assert_eq!(usage["totals"]["requests"], 1);

    // Revoked, or its tenant disabled: the token stops.
    let (status, _) = call(
        &base,
        Method::DELETE,
        &format!("/admin/tokens/{token_id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&base, Method::GET, "/admin/keys", &ta, None).await;
    assert_eq!(status, 401);
    let (_, made) = call(
        &base,
        Method::POST,
        &format!("/admin/tenants/{x}/tokens"),
        ADMIN_TOKEN,
        Some(json!({"name": "again"})),
    )
    .await;
    let again = made["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&base, Method::GET, "/admin/keys", &again, None)
            .await
            .0,
        200
    );
    call(
        &base,
        Method::DELETE,
        &format!("/admin/tenants/{x}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        call(&base, Method::GET, "/admin/keys", &again, None)
            .await
            .0,
        401
    );
    assert_eq!(chat(&s.url, "chat", Some(&x_secret)).await.0, 401);

    // The canary: no token, key or pepper in the store.
    let dump = format!(
        "{:?}{:?}{:?}{:?}",
        s.store.list_keys().await.unwrap(),
        s.store.list_tenants().await.unwrap(),
        s.store.admin_tokens_of(&x).await.unwrap(),
        s.store
            .usage_rows(&LedgerFilter::default(), 1_000)
            .await
            .unwrap(),
    );
    for canary in [
        &ta[12..],
        &again[12..],
        &x_secret[12..],
        PEPPER,
        ADMIN_TOKEN,
        VIEWER_TOKEN,
    ] {
        assert!(!dump.contains(canary), "the store holds {canary}");
    }
    let openapi: Value = reqwest::get(format!("{base}/admin/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/admin/tenants",
        "/admin/tenants/{id}",
        "/admin/tenants/{id}/tokens",
        "/admin/tokens/{id}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
}
