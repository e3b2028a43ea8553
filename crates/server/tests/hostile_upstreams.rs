//! Upstreams that misbehave, for every HTTP provider kind, through the real server: a raw
//! TCP server answers garbage (as JSON and as an event stream), a truncated body, a megabyte
//! of headers, an endless body that never yields an event, headers and then silence, a
//! connection reset, and an error status with an endless body. Every request, streamed or
//! not, ends in bounded time with a clear error in the caller's dialect (an error status
//! with a JSON error body, or, for a stream already under way, an in-band error event); no
//! handler panics, the gateway keeps answering, and every upstream connection it opened is
//! closed afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{json, Value};
use switchyard_config::ProviderKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::Gateway;

/// What the upstream does, named by the first segment of the request's path.
const BEHAVIOURS: [&str; 8] = [
    "garbage-json",
    "garbage-events",
    "truncated",
    "huge-headers",
    "endless",
    "silent",
    "reset",
    "endless-error",
];

/// Upstream connections open right now.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Requests each behaviour was asked for.
static SEEN: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

struct Open;

impl Open {
    fn new() -> Open {
        OPEN.fetch_add(1, Ordering::SeqCst);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads a request's head (and whatever body came with it); its path.
async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1)?.to_owned();
    // The body is small and arrives with the head or just after it: read what is there.
    let _ = tokio::time::timeout(Duration::from_millis(20), socket.read(&mut chunk)).await;
    Some(path)
}

async fn misbehave(mut socket: TcpStream) {
    let _open = Open::new();
    let Some(path) = read_head(&mut socket).await else {
        return;
    };
    let behaviour = path.trim_start_matches('/').split('/').next().unwrap_or("");
    *SEEN
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(behaviour.to_owned())
        .or_default() += 1;
    let reply = match behaviour {
        // Vertex AI's token endpoint answers properly: the model call is what misbehaves.
        "token" => {
            let body = r#"{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}"#;
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).into_bytes()
        }
        "garbage-json" => {
            let body = b"\x00\xff\xfe{\"choices\": [nope]]]\x01 not json at all";
            let mut out = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
            out.extend_from_slice(body);
            out
        }
        "garbage-events" => {
            let body = b"data: {\"choices\": [\x00\xff\n\nevent: message_start\ndata: [[[\n\ndata: \xc3\x28\n\n";
            let mut out = format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
            out.extend_from_slice(body);
            out
        }
        "truncated" => {
            let body =
                r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess"#;
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000\r\nconnection: close\r\n\r\n{body}").into_bytes()
        }
        "huge-headers" => {
            let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n".to_vec();
            let value = "v".repeat(250);
            for i in 0..4_000 {
                out.extend_from_slice(format!("x-filler-{i}: {value}\r\n").as_bytes());
            }
            out.extend_from_slice(b"content-length: 2\r\nconnection: close\r\n\r\n{}");
            out
        }
        "endless" | "endless-error" => {
            let status = if behaviour == "endless" {
                "200 OK"
            } else {
                "500 Internal Server Error"
            };
            let head = format!("HTTP/1.1 {status}\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            // A comment line over and over: bytes keep coming, an event never does.
            let line = format!(": {}\n", "k".repeat(1021));
            let chunk = format!("{:x}\r\n{line}\r\n", line.len());
            loop {
                if socket.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        "silent" => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            // Nothing more, until the gateway gives up and closes.
            let mut sink = [0u8; 1024];
            while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        "reset" => {
            // Closed with unread bytes pending: the peer gets a reset, not a clean end.
            let mut sink = [0u8; 1];
            let _ = socket.try_read(&mut sink);
            return;
        }
        _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
    };
    let _ = socket.write_all(&reply).await;
    let _ = socket.shutdown().await;
}

async fn evil_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(misbehave(socket));
        }
    });
    root
}

/// A chat request through `door` for `model`, streamed or not: (path, body).
fn request(door: &str, model: &str, stream: bool) -> (String, Value) {
    let say = "Say hello.";
    match door {
        "openai" => (
            "/v1/chat/completions".into(),
            json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": say}]}),
        ),
        "anthropic" => (
            "/v1/messages".into(),
            json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": say}]}),
        ),
        "gemini" => (
            format!(
                "/v1beta/models/{model}:{}",
                if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                }
            ),
            json!({"contents": [{"role": "user", "parts": [{"text": say}]}]}),
        ),
        "responses" => (
            "/v1/responses".into(),
            json!({"model": model, "stream": stream, "input": say}),
        ),
        _ => (
            format!(
                "/model/{model}/{}",
                if stream {
                    "converse-stream"
                } else {
                    "converse"
                }
            ),
            json!({"messages": [{"role": "user", "content": [{"text": say}]}]}),
        ),
    }
}

/// How one request ended.
#[derive(Debug)]
struct Outcome {
    status: u16,
    body: String,
    took: Duration,
}

/// A clear error: an error status with a JSON body that says something, or a stream that
/// ends with its dialect's error event. Never a success, never an empty or garbled body.
fn clear_error(door: &str, outcome: &Outcome) -> bool {
    if outcome.status >= 400 {
        let Ok(body) = serde_json::from_str::<Value>(&outcome.body) else {
            return false;
        };
        let message = body["error"]["message"]
            .as_str()
            .or(body["message"].as_str())
            .or(body["Message"].as_str())
            .unwrap_or("");
        return !message.is_empty() && !message.contains("panicked");
    }
    // A stream under way: its error event (Bedrock's event stream names the exception).
    let body = &outcome.body;
    match door {
        "bedrock" => body.contains("Exception"),
        _ => body.contains("error"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_provider_survives_every_misbehaving_upstream() {
    let root = evil_upstream().await;
    let kinds: Vec<&str> = ProviderKind::ALL
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "local")
        .collect();
    // Short timeouts, no retries: each failure is reported at once and the endless ones end
    // on the total limit.
    let mut config = String::from("[routing]\nmax_retries = 0\n\n");
    for kind in &kinds {
        for behaviour in BEHAVIOURS {
            config.push_str(&format!(
                "[[providers]]\nid = \"{kind}-{behaviour}\"\ntype = \"{kind}\"\nbase_url = \"{root}/{behaviour}\"\n{creds}\n\
                 timeouts = {{ connect_s = 1, first_byte_s = 2, idle_s = 1, total_s = 3 }}\n\n\
                 [[models]]\nname = \"{kind}-{behaviour}\"\nroute = [{{ provider = \"{kind}-{behaviour}\", model = \"m-1\" }}]\n\n",
                creds = common::credentials(kind, &root, "hostile"),
            ));
        }
    }
    let config = switchyard_config::load_str(&config, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for kind in &kinds {
        for behaviour in BEHAVIOURS {
            for stream in [false, true] {
                // Each misbehaviour through the OpenAI door; the reset through every door.
                let doors: &[&str] = if behaviour == "reset" {
                    &["openai", "anthropic", "gemini", "responses", "bedrock"]
                } else {
                    &["openai"]
                };
                for door in doors {
                    let model = format!("{kind}-{behaviour}");
                    let (path, body) = request(door, &model, stream);
                    let sent = client.post(format!("{}{path}", gw.url)).json(&body).send();
                    let label = format!("{door} -> {model}, stream {stream}");
                    calls.push(async move {
                        let started = Instant::now();
                        let resp = tokio::time::timeout(Duration::from_secs(20), async {
                            let resp = sent.await.unwrap();
                            let status = resp.status().as_u16();
                            let body = resp.bytes().await.unwrap();
                            (status, String::from_utf8_lossy(&body).into_owned())
                        })
                        .await
                        .unwrap_or_else(|_| panic!("{label}: no end in 20 s"));
                        let outcome = Outcome {
                            status: resp.0,
                            body: resp.1,
                            took: started.elapsed(),
                        };
                        (label, *door, outcome)
                    });
                }
            }
        }
    }
    let sent = calls.len();
    // Many at once, not all at once (the upstream's accept queue is not under test).
    let outcomes: Vec<_> = futures::stream::iter(calls)
        .buffer_unordered(48)
        .collect()
        .await;
    // Every request reached its upstream (none was refused before, which would prove
    // nothing), except those refused because that upstream had just been ejected for its
    // failures.
    let seen = SEEN.lock().unwrap().take().unwrap_or_default();
    let reached: usize = BEHAVIOURS
        .iter()
        .map(|b| seen.get(*b).copied().unwrap_or(0))
        .sum();
    let ejected = outcomes
        .iter()
        .filter(|(_, _, o)| o.status >= 500 && o.body.contains("ejected until"))
        .count();
    if reached + ejected < sent || std::env::var_os("SHOW_OUTCOMES").is_some() {
        for (label, _, outcome) in &outcomes {
            eprintln!(
                "{label}: {} in {:?}: {}",
                outcome.status,
                outcome.took,
                outcome.body.chars().take(160).collect::<String>()
            );
        }
        assert!(
        reached + ejected >= sent,
        "{reached} of {sent} requests reached the upstream ({ejected} refused as ejected): {seen:?}"
    );
    }
    let mut unclear = Vec::new();
    for (label, door, outcome) in &outcomes {
        // An endless error body is cut short: its request does not wait for the total limit.
        let limit = if label.contains("-endless-error") {
            Duration::from_millis(2_500)
        } else {
            Duration::from_secs(8)
        };
        if !clear_error(door, outcome) || outcome.took > limit {
            unclear.push(format!(
                "{label}: {} in {:?}: {}",
                outcome.status,
                outcome.took,
                outcome.body.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        unclear.is_empty(),
        "{} of {} requests did not end in a clear error in time:\n{}",
        unclear.len(),
        outcomes.len(),
        unclear.join("\n")
    );
    // The gateway still answers, and let go of every upstream connection.
    assert!(gw.healthy().await, "the gateway still answers");
    let deadline = Instant::now() + Duration::from_secs(5);
    while OPEN.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        OPEN.load(Ordering::SeqCst),
        0,
        "upstream connections left open"
    );
}
