//! Hostile clients and upstreams through the real server (issue 16's findings, each as a
//! test that failed before its fix): cut streams are paid for, dropped requests are recorded,
//! upstream headers cannot panic a handler, the PII guard is bounded, cloud file references
//! are refused unless allow-listed, connections and bodies are bounded in time and number,
//! the key is checked before the body is read, token counting is rate-limited, the audit
//! queue is bounded, refused admin calls are only counted, model lists obey a key's
//! allow-list, open mode refuses proxied requests, and a shutdown ends streams in band.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod governed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use governed::{key, pepper};
use serde_json::{json, Value};
use switchyard_config::ServerLimits;
use switchyard_governance::keys::KeySecret;
use switchyard_governance::Governance;
use switchyard_store::ledger::{LedgerFilter, LedgerRow};
use switchyard_store::Store;
use switchyard_testkit::openai::{chunk_json, sse_text_pieces, usage_json};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// A governed gateway in front of one mock OpenAI upstream (model `chat` ->
/// `gpt-4o-mini`, which the catalog prices), with the config's `extra` lines.
struct Hostile {
    url: String,
    store: Store,
    governance: Arc<Governance>,
    mock: MockOpenAi,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Hostile {
    async fn start(extra: &str, limits: ServerLimits, store: Store) -> Hostile {
        let mock = MockOpenAi::start().await.unwrap();
        let text = format!(
            "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-up\"\njurisdiction = \"EU\"\n{extra}\n\n\
             [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n\n\
             [[models]]\nname = \"other\"\nroute = [{{ provider = \"up\", model = \"gpt-4o\" }}]\n\n\
             [[policies]]\nname = \"mask\"\npii = \"mask-and-restore\"\n",
            mock.base_url()
        );
        Hostile::with_config(&text, limits, store, mock).await
    }

    async fn with_config(
        text: &str,
        limits: ServerLimits,
        store: Store,
        mock: MockOpenAi,
    ) -> Hostile {
        let config = switchyard_config::load_str(text, &|_| None).unwrap();
        let governance = Governance::start(store.clone(), Some(pepper()), None, None, None)
            .await
            .unwrap();
        let state =
            switchyard_server::AppState::build_governed(&config, Some(governance.clone())).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let served = tokio::spawn(switchyard_server::serve_live(
            switchyard_server::Live::new(state),
            listener,
            Box::pin(async move {
                let _ = rx.await;
            }),
            Duration::from_secs(1),
            limits,
        ));
        Hostile {
            url,
            store,
            governance,
            mock,
            stop: Some(tx),
            served,
        }
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    fn chat(&self, secret: &KeySecret, body: Value) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", self.url))
            .bearer_auth(secret.expose())
            .json(&body)
    }

    /// Every ledger row written so far.
    async fn rows(&self) -> Vec<LedgerRow> {
        self.store
            .usage_rows(&LedgerFilter::default(), 1_000)
            .await
            .unwrap()
    }

    /// Waits until the ledger holds `n` rows (requests end off the client's path).
    async fn wait_rows(&self, n: usize) -> Vec<LedgerRow> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rows = self.rows().await;
            if rows.len() >= n || Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Request records in the audit log.
    async fn request_records(&self) -> usize {
        self.governance.audit.flush(Duration::from_secs(5)).await;
        self.store
            .audit_records((0, 0), 100_000)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.kind == "request")
            .count()
    }
}

async fn open_store() -> Store {
    Store::open("sqlite::memory:").await.unwrap()
}

fn sse(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// A streamed answer: role, `pieces`, the finish chunk; then (after `gap`) the usage chunk
/// and `[DONE]` when `usage`, else the connection is cut.
fn stream_reply(pieces: &[&str], gap: Duration, usage: bool) -> Reply {
    let model = "gpt-4o-mini";
    let mut events = vec![(
        Duration::ZERO,
        sse(&chunk_json(
            model,
            json!({"role": "assistant", "content": ""}),
            None,
            false,
        )),
    )];
    for piece in pieces {
        events.push((
            Duration::ZERO,
            sse(&chunk_json(model, json!({"content": piece}), None, false)),
        ));
    }
    events.push((
        Duration::ZERO,
        sse(&chunk_json(model, json!({}), Some("stop"), false)),
    ));
    if usage {
        events.push((
            gap,
            sse(&json!({"id": "chatcmpl-mock123", "object": "chat.completion.chunk", "created": 1_700_000_000u64, "model": model, "choices": [], "usage": usage_json(1_000, 777)}).to_string()),
        ));
        events.push((Duration::ZERO, "data: [DONE]\n\n".to_owned()));
    } else {
        events.push((gap, String::new()));
    }
    Reply::Sse {
        pieces: events
            .into_iter()
            .map(|(gap, e)| (gap, Bytes::from(e)))
            .collect(),
        end: if usage { SseEnd::Close } else { SseEnd::Reset },
    }
}

/// Reads a stream until its finish reason, then hangs up.
async fn read_to_finish_and_leave(resp: reqwest::Response) {
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if seen.contains("\"finish_reason\":\"stop\"") {
            break;
        }
    }
    assert!(seen.contains("finish_reason"), "{seen}");
    drop(body);
}

fn stream_body() -> Value {
    json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hello there"}]})
}

#[tokio::test]
async fn a_stream_cut_before_its_usage_is_charged_the_usage_that_follows() {
    let store = open_store().await;
    let secret = key(&store, "key_tpm", |k| k.tpm = Some(100_000)).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    s.mock.push(stream_reply(
        &["a", "b", "c"],
        Duration::from_millis(400),
        true,
    ));
    read_to_finish_and_leave(s.chat(&secret, stream_body()).send().await.unwrap()).await;
    let rows = s.wait_rows(1).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.status, 499);
    assert_eq!(
        (row.input_tokens, row.output_tokens),
        (1_000, 777),
        "the upstream's usage, read after the client left"
    );
    assert!(row.cost_nano_usd > 0, "{row:?}");
    assert_eq!(
        s.request_records().await,
        2,
        "the started and the ended record"
    );
    // The tokens count against the key's TPM: 1,777 of 100,000 are gone.
    let resp = s.chat(&secret, stream_body()).send().await.unwrap();
    let remaining: u64 = resp.headers()["x-ratelimit-remaining-tokens"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining <= 100_000 - 1_777, "{remaining}");
}

#[tokio::test]
async fn a_stream_cut_whose_usage_never_comes_is_charged_an_estimate() {
    let store = open_store().await;
    let secret = key(&store, "key_est", |_| {}).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let pieces = ["word "; 40];
    s.mock
        .push(stream_reply(&pieces, Duration::from_millis(300), false));
    read_to_finish_and_leave(s.chat(&secret, stream_body()).send().await.unwrap()).await;
    let rows = s.wait_rows(1).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.status, 499);
    assert!(
        row.output_tokens >= 40,
        "no fewer than the deltas sent: {row:?}"
    );
    assert!(row.input_tokens >= 1, "{row:?}");
    assert!(row.cost_nano_usd > 0, "never $0: {row:?}");
}

#[tokio::test]
async fn a_dropped_request_ends_in_one_row_one_record_and_the_gauge_back_at_zero() {
    let store = open_store().await;
    let secret = key(&store, "key_drop", |_| {}).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    s.mock.push(Reply::After {
        wait: Duration::from_millis(600),
        reply: Box::new(Reply::text("late answer")),
    });
    let gone = s
        .chat(
            &secret,
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    let rows = s.wait_rows(1).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].input_tokens, rows[0].output_tokens), (12, 5));
    assert!(rows[0].cost_nano_usd > 0);
    assert_eq!(s.request_records().await, 1);
    assert!(
        s.metrics()
            .await
            .contains("switchyard_requests_in_flight 0\n"),
        "the gauge is back at its level"
    );
}

#[tokio::test]
async fn an_absurd_retry_after_is_capped_not_a_panic() {
    let store = open_store().await;
    let secret = key(&store, "key_retry", |_| {}).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    for (name, value) in [("retry-after", "1e300"), ("retry-after-ms", "1e300")] {
        s.mock.push(Reply::Json {
            status: 429,
            headers: vec![(name.to_owned(), value.to_owned())],
            body: r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#.to_owned(),
        });
        let resp = s
            .chat(
                &secret,
                json!({"model": "other", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "{name}");
        let wait: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait <= 86_400, "{name}: {wait}");
    }
}

#[tokio::test]
async fn the_pii_guard_caps_findings_per_request() {
    let store = open_store().await;
    let secret = key(&store, "key_pii", |_| {}).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let many: String = (0..100_001).map(|i| format!("u{i}@example.org ")).collect();
    let resp = s
        .chat(
            &secret,
            json!({"model": "chat", "messages": [{"role": "user", "content": many}]}),
        )
        .header("x-switchyard-policy", "mask")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "too_many_pii_findings", "{err}");
    assert_eq!(s.mock.request_count(), 0);
    // Under the cap: masked upstream, restored for the caller.
    let some: String = (0..2_000).map(|i| format!("u{i}@example.org ")).collect();
    let resp = s
        .chat(
            &secret,
            json!({"model": "chat", "messages": [{"role": "user", "content": some}]}),
        )
        .header("x-switchyard-policy", "mask")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = s.mock.requests()[0].json().to_string();
    assert!(!sent.contains("@example.org") && sent.contains("[EMAIL_2000]"));
}

#[tokio::test]
async fn cloud_file_references_need_an_allow_listed_prefix() {
    let store = open_store().await;
    let secret = key(&store, "key_files", |_| {}).await;
    let s = Hostile::start(
        "file_uri_prefixes = [\"gs://shared-docs/\"]",
        ServerLimits::default(),
        store,
    )
    .await;
    let ask = |uri: &str| {
        json!({"contents": [{"role": "user", "parts": [
            {"text": "summarise"},
            {"fileData": {"mimeType": "application/pdf", "fileUri": uri}}
        ]}]})
    };
    let client = reqwest::Client::new();
    let post = |body: Value| {
        client
            .post(format!("{}/v1beta/models/chat:generateContent", s.url))
            .header("x-goog-api-key", secret.expose())
            .json(&body)
            .send()
    };
    for uri in [
        "gs://other-tenant/secret.pdf",
        "gs://shared-docs-evil/x.pdf",
        "s3://bucket/x.pdf",
    ] {
        let resp = post(ask(uri)).await.unwrap();
        assert_eq!(resp.status(), 400, "{uri}");
        let err: Value = resp.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("messages[0].content[1]") && message.contains("up/gpt-4o-mini"),
            "{message}"
        );
    }
    assert_eq!(
        s.mock.request_count(),
        0,
        "no refused reference went upstream"
    );
    let resp = post(ask("gs://shared-docs/report.pdf")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.mock.request_count(), 1);
}

/// Tenants sharing a deployment: `tenant_file_uri_prefixes` gives each organisation (and its
/// teams) only its own folder of the shared bucket; a tenant with no list gets none, a key of
/// no tenant the provider's whole list.
#[tokio::test]
async fn cloud_file_references_are_narrowed_per_tenant() {
    use switchyard_store::tenants::TenantRow;
    let store = open_store().await;
    let tenant = |id: &str, parent: Option<&str>| TenantRow {
        id: id.into(),
        name: id.into(),
        parent_id: parent.map(str::to_owned),
        ..TenantRow::default()
    };
    for row in [
        tenant("acme", None),
        tenant("acme-research", Some("acme")),
        tenant("globex", None),
        tenant("initech", None),
    ] {
        store.insert_tenant(&row).await.unwrap();
    }
    let in_tenant = |t: &'static str| {
        move |k: &mut switchyard_store::keys::KeyRow| k.tenant_id = Some(t.into())
    };
    let acme = key(&store, "key_acme", in_tenant("acme")).await;
    let research = key(&store, "key_research", in_tenant("acme-research")).await;
    let globex = key(&store, "key_globex", in_tenant("globex")).await;
    let initech = key(&store, "key_initech", in_tenant("initech")).await;
    let operator = key(&store, "key_operator", |_| {}).await;
    let s = Hostile::start(
        "file_uri_prefixes = [\"gs://corp/\"]\n\
         [providers.tenant_file_uri_prefixes]\nacme = [\"gs://corp/acme/\"]\nglobex = [\"gs://corp/globex/\"]",
        ServerLimits::default(),
        store,
    )
    .await;
    let status = |secret: &KeySecret, uri: &str| {
        let body = json!({"model": "chat", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "summarise"},
            {"type": "file", "file": {"file_id": uri}}
        ]}]});
        let sent = s.chat(secret, body).send();
        async move { sent.await.unwrap().status().as_u16() }
    };
    for (who, secret, uri, expected) in [
        ("acme", &acme, "gs://corp/acme/plan.pdf", 200),
        ("acme", &acme, "gs://corp/globex/plan.pdf", 400),
        ("a team of acme", &research, "gs://corp/acme/plan.pdf", 200),
        (
            "a team of acme",
            &research,
            "gs://corp/globex/plan.pdf",
            400,
        ),
        ("globex", &globex, "gs://corp/globex/plan.pdf", 200),
        ("globex", &globex, "gs://corp/acme/plan.pdf", 400),
        (
            "a tenant with no list",
            &initech,
            "gs://corp/acme/plan.pdf",
            400,
        ),
        (
            "a key of no tenant",
            &operator,
            "gs://corp/globex/plan.pdf",
            200,
        ),
        (
            "a key of no tenant",
            &operator,
            "gs://elsewhere/plan.pdf",
            400,
        ),
    ] {
        assert_eq!(status(secret, uri).await, expected, "{who}: {uri}");
    }
    assert_eq!(
        s.mock.request_count(),
        4,
        "only the allowed ones went upstream"
    );
}

/// Sends raw bytes on a fresh connection and returns whatever comes back until it closes
/// (or `limit` passes).
async fn raw(addr: &str, send: &[u8], limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(send).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, tcp.read_to_end(&mut got)).await;
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn an_unknown_key_is_refused_before_the_body_is_read() {
    let store = open_store().await;
    let _known = key(&store, "key_known", |_| {}).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let head = "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sy_not_a_key\r\ncontent-type: application/json\r\ncontent-length: 30000000\r\nconnection: close\r\n\r\n{";
    let (answer, took) = raw(&s.addr(), head.as_bytes(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn slow_bodies_silent_and_idle_connections_are_closed() {
    let store = open_store().await;
    let secret = key(&store, "key_slow", |_| {}).await;
    let limits = ServerLimits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(700),
        body_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let s = Hostile::start("", limits, store).await;
    let addr = s.addr();

    // A connection that never sends a byte.
    let (answer, took) = raw(&addr, b"", Duration::from_secs(5)).await;
    assert!(
        answer.is_empty() && took < Duration::from_secs(2),
        "{took:?}"
    );
    // An HTTP/2 (h2c) connection that sends its preface and then nothing.
    let (_, took) = raw(
        &addr,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        Duration::from_secs(5),
    )
    .await;
    assert!(took < Duration::from_secs(3), "h2c idle: {took:?}");
    // A kept-alive HTTP/1.1 connection, idle after its answer.
    let (answer, took) = raw(
        &addr,
        b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(3), "keep-alive idle: {took:?}");

    // A body that trickles: one byte every 300 ms of a 100-byte body.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n", secret.expose());
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for _ in 0..100 {
            if tcp.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), trickle).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut got)).await;
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("too slowly"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let store = open_store().await;
    let limits = ServerLimits {
        max_connections: 1,
        ..ServerLimits::default()
    };
    let s = Hostile::start("", limits, store).await;
    let addr = s.addr();
    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The only slot is held by the kept-alive first connection.
    let second = tokio::spawn({
        let addr = addr.clone();
        async move {
            raw(
                &addr,
                b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
                Duration::from_secs(10),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "served beyond max_connections");
    drop(first);
    let (answer, _) = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn token_counting_is_rate_limited_in_every_dialect() {
    let store = open_store().await;
    let secret = key(&store, "key_count", |k| k.rpm = Some(3)).await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let client = reqwest::Client::new();
    let anthropic = || {
        client
            .post(format!("{}/v1/messages/count_tokens", s.url))
            .header("x-api-key", secret.expose())
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let gemini = || {
        client
            .post(format!("{}/v1beta/models/chat:countTokens", s.url))
            .header("x-goog-api-key", secret.expose())
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
            .send()
    };
    let bedrock = || {
        client
            .post(format!("{}/model/chat/count-tokens", s.url))
            .bearer_auth(secret.expose())
            .json(&json!({"input": {"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}}))
            .send()
    };
    // Three requests of the minute's three, whatever each answers (this route cannot count).
    assert_ne!(anthropic().await.unwrap().status(), 429);
    assert_ne!(gemini().await.unwrap().status(), 429);
    assert_ne!(bedrock().await.unwrap().status(), 429);
    assert_eq!(anthropic().await.unwrap().status(), 429);
    assert_eq!(gemini().await.unwrap().status(), 429);
    assert_eq!(bedrock().await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_full_audit_queue_refuses_new_requests_by_default_and_serves_when_told() {
    for (when_full, refused) in [("refuse", true), ("serve", false)] {
        let store = open_store().await;
        let secret = key(&store, "key_audit", |_| {}).await;
        let extra = format!("\n[audit]\nqueue = 1\nwhen_full = \"{when_full}\"\n");
        let mock = MockOpenAi::start().await.unwrap();
        let text = format!(
            "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"EU\"\n\n\
             [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n{extra}",
            mock.base_url()
        );
        let s = Hostile::with_config(&text, ServerLimits::default(), store, mock).await;
        let ask = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
        // The database goes away: records wait in the queue, retried.
        s.store.close().await;
        assert_eq!(
            s.chat(&secret, ask.clone()).send().await.unwrap().status(),
            200
        );
        // The first request's record fills the queue of one.
        let resp = s.chat(&secret, ask.clone()).send().await.unwrap();
        if refused {
            assert_eq!(resp.status(), 503, "{when_full}");
            let err: Value = resp.json().await.unwrap();
            assert_eq!(err["error"]["code"], "audit_unavailable");
            assert!(resp_is_bounded(&s).await);
        } else {
            assert_eq!(resp.status(), 200, "{when_full}");
            assert!(s
                .metrics()
                .await
                .contains("switchyard_audit_records_dropped_total 1"));
        }
    }
}

/// The queue holds no more than its bound.
async fn resp_is_bounded(s: &Hostile) -> bool {
    s.metrics()
        .await
        .contains("switchyard_audit_records_pending 1\n")
}

#[tokio::test]
async fn refused_admin_calls_are_counted_and_not_recorded() {
    let store = open_store().await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let admin = governed::admin(s.governance.clone()).await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        let resp = client
            .post(format!("{admin}/admin/keys/attacker-chosen-path-{i}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(resp.status() == 401 || resp.status() == 404 || resp.status() == 405);
    }
    let resp = client
        .post(format!("{admin}/admin/keys"))
        .bearer_auth("wrong-token")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    s.governance.audit.flush(Duration::from_secs(5)).await;
    let records = s.store.audit_records((0, 0), 100_000).await.unwrap();
    assert!(
        records
            .iter()
            .all(|r| !r.record.contains("attacker-chosen")),
        "no refused call is recorded"
    );
    let metrics = s.metrics().await;
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_admin_refused_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(refused >= 21, "{refused}");
}

#[tokio::test]
async fn model_lists_and_route_explain_obey_the_keys_allow_list() {
    let store = open_store().await;
    let limited = key(&store, "key_lim", |k| {
        k.allowed_models = vec!["chat".into()]
    })
    .await;
    let s = Hostile::start("", ServerLimits::default(), store).await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", s.url))
            .bearer_auth(limited.expose())
            .header("x-goog-api-key", limited.expose())
            .send()
    };
    let openai: Value = get("/v1/models").await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = openai["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chat"]);
    let gemini = get("/v1beta/models").await.unwrap().text().await.unwrap();
    assert!(
        gemini.contains("models/chat") && !gemini.contains("models/other"),
        "{gemini}"
    );
    let anthropic: Value = client
        .get(format!("{}/v1/models", s.url))
        .header("x-api-key", limited.expose())
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        anthropic["data"].as_array().unwrap().len(),
        1,
        "{anthropic}"
    );
    let resp = get("/v1/route/explain?model=other").await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        get("/v1/route/explain?model=chat").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn open_mode_refuses_requests_that_came_through_a_proxy() {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let gw = {
        let state = switchyard_server::AppState::build(&config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(switchyard_server::serve(
            state,
            listener,
            Box::pin(std::future::pending()),
            Duration::from_secs(1),
        ));
        url
    };
    let client = reqwest::Client::new();
    let ask = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    let direct = client
        .post(format!("{gw}/v1/chat/completions"))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    let proxied = client
        .post(format!("{gw}/v1/chat/completions"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    let err: Value = proxied.json().await.unwrap();
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-forwarded-for"));
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn a_stream_still_running_when_the_drain_ends_gets_an_in_band_error_and_its_row() {
    let store = open_store().await;
    let secret = key(&store, "key_term", |_| {}).await;
    let mut s = Hostile::start("", ServerLimits::default(), store).await;
    let pieces: Vec<String> = (0..100).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let events = sse_text_pieces("gpt-4o-mini", &refs, true);
    s.mock.push(Reply::sse_paced(
        events,
        Duration::from_millis(100),
        SseEnd::Close,
    ));
    let resp = s.chat(&secret, stream_body()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let reader = tokio::spawn(async move { resp.text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(400)).await;
    // SIGTERM: a 1 s drain, far less than the stream's 10 s.
    s.stop.take().unwrap().send(()).unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(body.contains("server_shutdown"), "{body}");
    assert!(
        body.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("server_shutdown"),
        "the error event is the stream's last: {body}"
    );
    tokio::time::timeout(Duration::from_secs(10), &mut s.served)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let rows = s.wait_rows(1).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].output_tokens > 0 && rows[0].cost_nano_usd > 0,
        "{rows:?}"
    );
}
