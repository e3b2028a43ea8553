//! A governed gateway for the governance test files: a store with virtual keys, a mock
//! OpenAI upstream, the server, and its admin API.

// Each test file uses its own part of this module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::{Governance, Pepper};
use switchyard_server::AppState;
use switchyard_store::keys::KeyRow;
use switchyard_store::Store;
use switchyard_testkit::MockOpenAi;
use tokio::sync::oneshot;

pub const PEPPER: &str = "canary-pepper-7f3a9c1e5b2d8f4a6c0e9b1d3f5a7c9e";

pub fn pepper() -> Pepper {
    Pepper::new(PEPPER).unwrap()
}

pub struct Setup {
    pub url: String,
    pub store: Store,
    pub governance: Arc<Governance>,
    pub mock: MockOpenAi,
    _shutdown: oneshot::Sender<()>,
}

pub async fn key(store: &Store, id: &str, edit: impl FnOnce(&mut KeyRow)) -> KeySecret {
    let secret = KeySecret::generate().unwrap();
    let now = switchyard_store::now_ms();
    let mut row = KeyRow {
        id: id.into(),
        name: format!("{id}-name"),
        prefix: secret.display_prefix().into(),
        hash: keys::to_hex(&pepper().hash(secret.expose())),
        tenant_id: None,
        created_at: now,
        expires_at: None,
        revoked_at: None,
        allowed_models: vec![],
        metadata: None,
        updated_at: now,
        ..KeyRow::default()
    };
    edit(&mut row);
    store.insert_key(&row).await.unwrap();
    secret
}

pub async fn setup(store: Store) -> Setup {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-upstream-canary-123456\"\njurisdiction = \"EU\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n\n\
         [[models]]\nname = \"other\"\nroute = [{{ provider = \"up\", model = \"gpt-4o\" }}]\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let governance = Governance::start(store.clone(), Some(pepper()), None, None, None)
        .await
        .unwrap();
    let state = AppState::build_governed(&config, Some(governance.clone())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(switchyard_server::serve(
        state,
        listener,
        Box::pin(async move {
            let _ = rx.await;
        }),
        Duration::from_secs(5),
    ));
    Setup {
        url,
        store,
        governance,
        mock,
        _shutdown: tx,
    }
}

pub async fn chat(url: &str, model: &str, key: Option<&str>) -> (u16, String, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let cost = resp
        .headers()
        .get("x-switchyard-cost-usd")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.text().await.unwrap(), cost)
}

pub const ADMIN_TOKEN: &str = "admin-canary-token-5b2d8f4a6c0e";
pub const VIEWER_TOKEN: &str = "viewer-token-0123456789";

pub async fn admin(governance: Arc<Governance>) -> String {
    let state =
        switchyard_server::admin::AdminState::new(governance, ADMIN_TOKEN, Some(VIEWER_TOKEN))
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchyard_server::admin::serve(
        state,
        listener,
        Box::pin(std::future::pending()),
    ));
    url
}
