//! The PII guard through the real server: what the upstream receives (placeholders, never
//! the originals), what the client gets back (originals restored, streamed answers included
//! with placeholders split across deltas), redaction, and blocking in the caller's dialect.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Gateway;
use serde_json::{json, Value};
use switchyard_testkit::openai::sse_text_pieces;
use switchyard_testkit::{MockOpenAi, Reply};

const EMAIL: &str = "jane.doe@example.com";
const PHONE: &str = "+44 20 7946 0958";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";

async fn setup() -> (Gateway, MockOpenAi) {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o\" }}]\n\n\
         [[models]]\nname = \"embed\"\nroute = [{{ provider = \"up\", model = \"text-embedding-3-small\" }}]\n\n\
         [[pii_patterns]]\nname = \"employee-id\"\nregex = '\\bEMP-\\d{{6}}\\b'\n\n\
         [[policies]]\nname = \"mask\"\npii = \"mask-and-restore\"\n\n\
         [[policies]]\nname = \"redact\"\npii = \"redact\"\n\n\
         [[policies]]\nname = \"strict\"\npii = \"block\"\npii_kinds = [\"iban\", \"card\"]\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    (Gateway::serve(&config, Duration::from_secs(5)).await, mock)
}

fn prompt() -> String {
    format!("Write to {EMAIL} or call {PHONE}; badge EMP-123456; pay {IBAN}.")
}

fn upstream_text(mock: &MockOpenAi, n: usize) -> String {
    mock.requests()[n].json()["messages"].to_string()
}

#[tokio::test]
async fn mask_and_restore_hides_originals_upstream_and_restores_the_answer() {
    let (gw, mock) = setup().await;
    mock.push(Reply::text(
        "I wrote to [EMAIL_1], called [PHONE_1] and noted [EMPLOYEE_ID_1] and [IBAN_1].",
    ));
    let resp = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat", "messages": [
            {"role": "system", "content": format!("The user is {EMAIL}.")},
            {"role": "user", "content": prompt()}]}),
        )
        .header("x-switchyard-policy", "mask")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        format!("I wrote to {EMAIL}, called {PHONE} and noted EMP-123456 and {IBAN}.")
    );
    let sent = upstream_text(&mock, 0);
    for original in [EMAIL, PHONE, "EMP-123456", IBAN] {
        assert!(
            !sent.contains(original),
            "{original} reached the upstream: {sent}"
        );
    }
    // The same address gets the same placeholder in every message.
    assert!(sent.contains("The user is [EMAIL_1]."), "{sent}");
    assert!(
        sent.contains("Write to [EMAIL_1] or call [PHONE_1]; badge [EMPLOYEE_ID_1]; pay [IBAN_1]."),
        "{sent}"
    );
}

#[tokio::test]
async fn streamed_answers_are_restored_across_split_placeholders() {
    let (gw, mock) = setup().await;
    let pieces = [
        "Sent to [EM",
        "AIL_1",
        "]; calling [",
        "PHONE_1]",
        " now [x].",
    ];
    mock.push(Reply::sse_split(
        sse_text_pieces("gpt-4o", &pieces, true),
        7,
        Duration::from_millis(1),
    ));
    let resp = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat", "stream": true,
            "messages": [{"role": "user", "content": prompt()}]}),
        )
        .header("x-switchyard-policy", "mask")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let mut content = String::new();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
    }
    assert_eq!(
        content,
        format!("Sent to {EMAIL}; calling {PHONE} now [x].")
    );
    assert!(!upstream_text(&mock, 0).contains(EMAIL));
}

#[tokio::test]
async fn redaction_leaves_placeholders_in_the_answer() {
    let (gw, mock) = setup().await;
    mock.push(Reply::text("Noted [REDACTED_EMAIL]."));
    let resp = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat",
            "messages": [{"role": "user", "content": prompt()}]}),
        )
        .header("x-switchyard-policy", "redact")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Noted [REDACTED_EMAIL]."
    );
    let sent = upstream_text(&mock, 0);
    assert!(
        sent.contains("Write to [REDACTED_EMAIL] or call [REDACTED_PHONE]"),
        "{sent}"
    );
    // Embedding inputs are guarded too.
    let resp = gw
        .post(
            "/v1/embeddings",
            json!({"model": "embed", "input": [prompt()]}),
        )
        .header("x-switchyard-policy", "redact")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = mock.requests()[1].json()["input"].to_string();
    assert!(
        !sent.contains(EMAIL) && sent.contains("[REDACTED_EMAIL]"),
        "{sent}"
    );
}

#[tokio::test]
async fn blocked_requests_never_leave_and_are_refused_in_each_dialect() {
    let (gw, mock) = setup().await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat",
            "messages": [{"role": "user", "content": prompt()}]}),
        )
        .header("x-switchyard-policy", "strict")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "pii_detected");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`strict`") && message.contains("iban x1"),
        "{message}"
    );
    assert!(
        !message.contains("3704"),
        "the value itself is never repeated: {message}"
    );
    let resp = gw
        .post(
            "/v1/messages",
            json!({"model": "chat", "max_tokens": 10,
            "messages": [{"role": "user", "content": prompt()}]}),
        )
        .header("x-switchyard-policy", "strict")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        mock.request_count(),
        0,
        "a blocked request reaches no upstream"
    );
    // Without IBAN or card, the strict policy lets it through unchanged.
    mock.push(Reply::text("ok"));
    let resp = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat",
            "messages": [{"role": "user", "content": format!("mail {EMAIL}")}]}),
        )
        .header("x-switchyard-policy", "strict")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(upstream_text(&mock, 0).contains(EMAIL));
}
