//! The response cache through the real server: an identical request is answered from the
//! cache (no upstream call, `x-switchyard-cache: hit`, a receipt saying so, no cost) within
//! the same scope and policies only; another policy set, a stream, `Cache-Control:
//! no-cache`/`no-store` and an expired answer go upstream; under mask-and-restore the kept
//! answer is restored for the caller like a fresh one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::Gateway;
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

struct Answer {
    status: u16,
    cache: Option<String>,
    receipt: Value,
    body: Value,
}

async fn ask(gw: &Gateway, text: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = gw.post(
        "/v1/chat/completions",
        json!({"model": "chat", "messages": [{"role": "user", "content": text}]}),
    );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("x-switchyard-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    let receipt = resp.headers()["x-switchyard-receipt"]
        .to_str()
        .unwrap()
        .to_owned();
    let receipt = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(receipt)
            .unwrap(),
    )
    .unwrap();
    let body = resp.json().await.unwrap();
    Answer {
        status,
        cache,
        receipt,
        body,
    }
}

fn content(answer: &Answer) -> &str {
    answer.body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
}

#[tokio::test]
async fn identical_requests_are_answered_from_the_cache_within_scope_and_policies() {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[cache]\nenabled = true\nttl_s = 1\n\n\
         [[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"de\", model = \"gpt-4o-mini\" }}]\n\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\"]\n\n\
         [[policies]]\nname = \"masked\"\npii = \"mask-and-restore\"\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_secs(5)).await;
    let upstream = || mock.requests().len();

    mock.push(Reply::text("first answer"));
    let first = ask(&gw, "what is 2+2?", &[]).await;
    assert_eq!((first.status, first.cache.as_deref()), (200, None));
    assert_eq!(upstream(), 1);
    // The same request again: from the cache, the same answer, no upstream call, no cost.
    let again = ask(&gw, "what is 2+2?", &[]).await;
    assert_eq!((again.status, again.cache.as_deref()), (200, Some("hit")));
    assert_eq!(content(&again), "first answer");
    assert_eq!(upstream(), 1);
    assert_eq!(again.receipt["cache"], "hit");
    assert_eq!(again.receipt["deployment"], "de/gpt-4o-mini");
    assert_eq!(first.receipt["cache"], Value::Null);

    // Another policy set is another key: upstream again, then kept for that set.
    mock.push(Reply::text("answer under eu-only"));
    let eu = ask(&gw, "what is 2+2?", &[("x-switchyard-policy", "eu-only")]).await;
    assert_eq!(
        (eu.cache.as_deref(), content(&eu)),
        (None, "answer under eu-only")
    );
    assert_eq!(upstream(), 2);
    let eu = ask(&gw, "what is 2+2?", &[("x-switchyard-policy", "eu-only")]).await;
    assert_eq!(
        (eu.cache.as_deref(), content(&eu)),
        (Some("hit"), "answer under eu-only")
    );
    assert_eq!(upstream(), 2);

    // no-cache: not read (still stored); no-store: neither.
    mock.push(Reply::text("fresh"));
    let fresh = ask(&gw, "what is 2+2?", &[("cache-control", "no-cache")]).await;
    assert_eq!((fresh.cache.as_deref(), content(&fresh)), (None, "fresh"));
    assert_eq!(upstream(), 3);
    assert_eq!(content(&ask(&gw, "what is 2+2?", &[]).await), "fresh");
    mock.push(Reply::text("unkept"));
    ask(&gw, "new question", &[("cache-control", "no-store")]).await;
    mock.push(Reply::text("kept"));
    let next = ask(&gw, "new question", &[]).await;
    assert_eq!((next.cache.as_deref(), content(&next)), (None, "kept"));
    assert_eq!(upstream(), 5);

    // A stream is never served from the cache (the mock's default answer streams).
    let streamed = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "new question"}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(streamed.headers().get("x-switchyard-cache").is_none());
    streamed.text().await.unwrap();
    assert_eq!(upstream(), 6);

    // Mask-and-restore: the upstream never sees the address, the kept answer holds only the
    // placeholder, and a hit is restored for the caller.
    mock.push(Reply::text("I will write to [EMAIL_1]."));
    let masked = [("x-switchyard-policy", "masked")];
    let first = ask(&gw, "mail jane@example.org please", &masked).await;
    assert_eq!(content(&first), "I will write to jane@example.org.");
    let sent = mock.requests().last().unwrap().json().to_string();
    assert!(
        sent.contains("[EMAIL_1]") && !sent.contains("jane@"),
        "{sent}"
    );
    let hit = ask(&gw, "mail jane@example.org please", &masked).await;
    assert_eq!(hit.cache.as_deref(), Some("hit"));
    assert_eq!(content(&hit), "I will write to jane@example.org.");
    assert_eq!(upstream(), 7);

    // Answers expire (ttl_s = 1).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    mock.push(Reply::text("after expiry"));
    let late = ask(&gw, "what is 2+2?", &[]).await;
    assert_eq!(
        (late.cache.as_deref(), content(&late)),
        (None, "after expiry")
    );
    assert_eq!(upstream(), 8);

    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_cache_lookups_total{outcome=\"hit\"} 4"),
        "{metrics}"
    );
}
