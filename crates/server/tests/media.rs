//! Image URLs for providers that only take inline data: fetched by the gateway (size cap,
//! SSRF guard), sent upstream as base64; refused with a 400 naming the reason otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use switchyard_testkit::MockOpenAi;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::Gateway;

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 7, 7, 7];

/// An image server on loopback answering every request with the PNG.
async fn image_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                PNG.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(PNG).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}/cat.png")
}

fn config(root: &str, media: &str) -> switchyard_config::Config {
    let text = format!(
        "{media}\n[[providers]]\nid = \"g\"\ntype = \"gemini\"\nbase_url = \"{root}\"\napi_key = \"k\"\n\n\
         [[models]]\nname = \"vision\"\nroute = [{{ provider = \"g\", model = \"gemini-2.5-flash\" }}]\n"
    );
    switchyard_config::load_str(&text, &|_| None).unwrap()
}

fn ask(url: &str) -> serde_json::Value {
    json!({"model": "vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}}]}]})
}

#[tokio::test]
async fn image_urls_are_fetched_and_sent_inline() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let url = image_server().await;
    let gw = Gateway::serve(
        &config(&root, "[media]\nallow_private_networks = true"),
        Duration::from_millis(500),
    )
    .await;
    let resp = gw
        .post("/v1/chat/completions", ask(&url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = mock.requests()[0].json();
    let part = &sent["contents"][0]["parts"][1]["inlineData"];
    assert_eq!(part["mimeType"], "image/png");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(part["data"].as_str().unwrap())
            .unwrap(),
        PNG
    );
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let url = image_server().await;
    let gw = Gateway::serve(&config(&root, ""), Duration::from_millis(500)).await;
    for url in [url.as_str(), "http://169.254.169.254/latest/meta-data/iam/"] {
        let resp = gw
            .post("/v1/chat/completions", ask(url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let body: serde_json::Value = resp.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("not a public address"), "{message}");
    }
    assert_eq!(mock.request_count(), 0, "nothing reached the upstream");
}
