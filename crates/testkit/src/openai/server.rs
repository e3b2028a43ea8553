//! The mock server: an axum app on `127.0.0.1:0` with a queue of scripted replies.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Value};

use super::bodies;
use crate::scenario::{self, Ask, Finish, Plan};

/// What the mock does with the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response with this status, extra headers and JSON body.
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// `200 text/event-stream`, written piece by piece: before each piece the mock waits
    /// the given time, and each piece goes out in its own write (so a piece may hold half an
    /// event, or several).
    Sse {
        pieces: Vec<(Duration, Bytes)>,
        end: SseEnd,
    },
    /// `200 application/vnd.amazon.eventstream` (Bedrock's binary frames), written piece by
    /// piece like [`Reply::Sse`].
    EventStream {
        pieces: Vec<(Duration, Bytes)>,
        end: SseEnd,
    },
    /// Reads the request and never answers: no status line, no headers.
    Hang,
    /// Waits, then answers with the reply (a slow upstream).
    After { wait: Duration, reply: Box<Reply> },
}

/// How a scripted SSE body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseEnd {
    /// Normal end of the body.
    Close,
    /// The connection is cut without ending the chunked body.
    Reset,
    /// The connection stays open, silent, forever.
    Hold,
}

impl Reply {
    /// An OpenAI-style error with `Retry-After` when given.
    pub fn error(status: u16, kind: &str, message: &str, retry_after: Option<&str>) -> Reply {
        Reply::Json {
            status,
            headers: retry_after
                .map(|r| vec![("retry-after".to_owned(), r.to_owned())])
                .unwrap_or_default(),
            body: bodies::error_json(message, kind, None),
        }
    }

    /// A non-streamed text answer.
    pub fn text(text: &str) -> Reply {
        Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: bodies::chat_completion_json("gpt-4o-mini", text, 12, 5),
        }
    }

    /// Complete SSE events sent back to back with no delay.
    pub fn sse_events(events: Vec<String>) -> Reply {
        Reply::sse_paced(events, Duration::ZERO, SseEnd::Close)
    }

    /// Complete SSE events, each after `gap`, then the given ending (a normal close, a reset,
    /// or a connection held open in silence).
    pub fn sse_paced(events: Vec<String>, gap: Duration, end: SseEnd) -> Reply {
        Reply::Sse {
            pieces: events.into_iter().map(|e| (gap, Bytes::from(e))).collect(),
            end,
        }
    }

    /// The same bytes as `events`, but cut into pieces of `size` bytes, so that events are
    /// split across network writes (and several may share one).
    pub fn sse_split(events: Vec<String>, size: usize, gap: Duration) -> Reply {
        let all: Vec<u8> = events.concat().into_bytes();
        Reply::Sse {
            pieces: all
                .chunks(size.max(1))
                .map(|c| (gap, Bytes::copy_from_slice(c)))
                .collect(),
            end: SseEnd::Close,
        }
    }
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// HTTP/1.1 or HTTP/2 (over TLS with ALPN, see [`MockOpenAi::start_tls`]).
    pub version: axum::http::Version,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived (to order requests across several mocks).
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Default)]
struct State {
    replies: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
}

/// A running mock. Stops when dropped.
#[derive(Debug)]
pub struct MockOpenAi {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
    tls: Option<super::tls::TestTls>,
}

fn app(state: Arc<State>) -> axum::Router {
    axum::Router::new().fallback(
        move |method: Method,
              uri: Uri,
              version: axum::http::Version,
              headers: HeaderMap,
              body: Bytes| {
            let state = state.clone();
            async move { handle(state, method, uri, version, headers, body).await }
        },
    )
}

impl MockOpenAi {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<MockOpenAi> {
        Self::bind("127.0.0.1:0").await
    }

    pub async fn bind(addr: &str) -> std::io::Result<MockOpenAi> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let app = app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockOpenAi {
            addr,
            state,
            task,
            tls: None,
        })
    }

    /// Starts with TLS (HTTP/2 and HTTP/1.1 offered through ALPN) on an ephemeral port, with
    /// a certificate for `localhost` and `127.0.0.1` issued by a fresh test CA. Trust
    /// [`MockOpenAi::ca_pem`] to connect; the base URL is `https://localhost:PORT/v1`.
    pub async fn start_tls() -> std::io::Result<MockOpenAi> {
        let tls = super::tls::TestTls::generate().map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(super::tls::serve(
            listener,
            tls.acceptor.clone(),
            app(state.clone()),
        ));
        Ok(MockOpenAi {
            addr,
            state,
            task,
            tls: Some(tls),
        })
    }

    /// The test CA's certificate (PEM), for TLS mocks.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, or `https://localhost:PORT/v1` for a TLS mock.
    pub fn base_url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}/v1", self.addr.port()),
            None => format!("http://{}/v1", self.addr),
        }
    }

    /// Queues a reply for the next request that has none.
    pub fn push(&self, reply: Reply) {
        if let Ok(mut q) = self.state.replies.lock() {
            q.push_back(reply);
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .recorded
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn request_count(&self) -> usize {
        self.state.recorded.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Serves until the task ends (for the `switchyard-mock` binary).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    version: axum::http::Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state
        .recorded
        .lock()
        .map(|mut r| {
            r.push(Recorded {
                method: method.to_string(),
                version,
                path: uri
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                headers: headers.clone(),
                body: body.clone(),
                at: std::time::Instant::now(),
            })
        })
        .ok();
    let scripted = state.replies.lock().ok().and_then(|mut q| q.pop_front());
    let unsigned_bedrock = uri.path().starts_with("/model/")
        && !crate::bedrock::is_sigv4(headers.get("authorization").and_then(|v| v.to_str().ok()));
    let reply = match scripted {
        Some(reply) => reply,
        None if unsigned_bedrock => crate::bedrock::error(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        None => default_reply(uri.path(), &body),
    };
    render(reply).await
}

async fn render(reply: Reply) -> Response {
    match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut builder = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header("content-type", "application/json")
                .header("x-request-id", "req_mock")
                .header("x-amzn-requestid", crate::bedrock::REQUEST_ID);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body)).unwrap_or_default()
        }
        Reply::Hang => {
            futures::future::pending::<()>().await;
            Response::default()
        }
        Reply::After { wait, reply } => {
            tokio::time::sleep(wait).await;
            Box::pin(render(*reply)).await
        }
        Reply::Sse { pieces, end } => streamed(pieces, end, "text/event-stream; charset=utf-8"),
        Reply::EventStream { pieces, end } => {
            streamed(pieces, end, "application/vnd.amazon.eventstream")
        }
    }
}

/// A `200` body written piece by piece, each after its delay, then the given ending.
fn streamed(pieces: Vec<(Duration, Bytes)>, end: SseEnd, content_type: &'static str) -> Response {
    let head = futures::stream::iter(pieces).then(|(gap, bytes)| async move {
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        Ok::<Bytes, std::io::Error>(bytes)
    });
    let tail = futures::stream::once(async move {
        match end {
            SseEnd::Close => Ok(Bytes::new()),
            SseEnd::Reset => {
                // Let the pieces before reach the client first.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock reset",
                ))
            }
            SseEnd::Hold => {
                futures::future::pending::<()>().await;
                Ok(Bytes::new())
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("x-request-id", "req_mock")
        .header("x-amzn-requestid", crate::bedrock::REQUEST_ID)
        .body(Body::from_stream(head.chain(tail)))
        .unwrap_or_default()
}

/// Unscripted requests get a plausible answer in OpenAI's exact format.
fn default_reply(path: &str, body: &[u8]) -> Reply {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let model = request["model"]
        .as_str()
        .unwrap_or("gpt-4o-mini")
        .to_owned();
    if path.ends_with("/embeddings") {
        return embeddings_reply(&request, &model);
    }
    if path.ends_with("/v2/chat") || path.ends_with("/v2/embed") {
        return crate::cohere::default_reply(path, &request);
    }
    if path.ends_with("/api/chat") || path.ends_with("/api/embed") {
        return crate::ollama::default_reply(path, &request);
    }
    if path.ends_with("/token") {
        // Google's OAuth token endpoint (service-account JWTs, refresh tokens).
        return Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({"access_token": "ya29.mock-token", "expires_in": 3599, "token_type": "Bearer"}).to_string(),
        };
    }
    if path.contains("/publishers/google/models/") && path.ends_with(":predict") {
        return crate::gemini::predict_reply(&request);
    }
    if path.contains("/v1beta/models/") || path.contains("/publishers/google/models/") {
        return crate::gemini::default_reply(path, &request);
    }
    if path.starts_with("/model/") {
        return crate::bedrock::default_reply(path, &request);
    }
    if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") {
        return crate::anthropic::default_reply(path, &request);
    }
    if path.ends_with("/models") {
        return Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({"object": "list", "data": [{"id": model, "object": "model", "created": 1_700_000_000u64, "owned_by": "mock"}]}).to_string(),
        };
    }
    if !path.ends_with("/chat/completions") {
        return Reply::error(404, "invalid_request_error", "Unknown path", None);
    }
    let stream = request["stream"].as_bool() == Some(true);
    let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
    let greeting = "Hello! This is the Switchyard mock upstream.";
    match scenario::plan(&ask(&request), greeting, "call_mock") {
        Plan::Calls(calls) => {
            let arguments: Vec<String> = calls.iter().map(|c| c.arguments.to_string()).collect();
            if stream {
                let split: Vec<(&str, &str, Vec<&str>)> = calls
                    .iter()
                    .zip(&arguments)
                    .map(|(c, a)| {
                        let (head, tail) = a.split_at(a.len() / 2);
                        (c.id.as_str(), c.name.as_str(), vec![head, tail])
                    })
                    .collect();
                return Reply::sse_events(bodies::sse_tool_call_pieces(
                    &model,
                    &split,
                    include_usage,
                ));
            }
            let calls: Vec<(&str, &str, &str)> = calls
                .iter()
                .zip(&arguments)
                .map(|(c, a)| (c.id.as_str(), c.name.as_str(), a.as_str()))
                .collect();
            Reply::Json {
                status: 200,
                headers: Vec::new(),
                body: bodies::tool_calls_completion_json(&model, &calls),
            }
        }
        Plan::Text { text, finish } => {
            let reason = match finish {
                Finish::Length => "length",
                Finish::End | Finish::Stop(_) => "stop",
            };
            if stream {
                Reply::sse_events(bodies::sse_text_pieces_finish(
                    &model,
                    &scenario::pieces(&text),
                    include_usage,
                    reason,
                ))
            } else {
                Reply::Json {
                    status: 200,
                    headers: Vec::new(),
                    body: bodies::text_completion_json(&model, &text, reason, 12, 9),
                }
            }
        }
    }
}

/// What an OpenAI Chat Completions request asks for.
fn ask(request: &Value) -> Ask {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(messages, "role", "assistant");
    let images = tail
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["type"] == "image_url")
        .filter_map(|p| p["image_url"]["url"].as_str().map(str::to_owned))
        .collect();
    Ask {
        stop: scenario::strings(&request["stop"]),
        max_tokens: request["max_completion_tokens"]
            .as_u64()
            .or_else(|| request["max_tokens"].as_u64()),
        tools: tools_to_call(request),
        tool_results: tail
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| scenario::result_text(&m["content"]))
            .collect(),
        images,
        json_schema: request["response_format"]["type"] == "json_schema",
    }
}

/// The tools a mock "model" calls: the named one, else every one offered, unless forbidden.
fn tools_to_call(request: &Value) -> Vec<String> {
    let Some(tools) = request["tools"].as_array() else {
        return Vec::new();
    };
    if request["tool_choice"] == "none" {
        return Vec::new();
    }
    if let Some(name) = request["tool_choice"]["function"]["name"].as_str() {
        return vec![name.to_owned()];
    }
    tools
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn embeddings_reply(request: &Value, model: &str) -> Reply {
    let inputs: Vec<String> = match &request["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|v| v.to_string()).collect(),
        _ => Vec::new(),
    };
    let dims = request["dimensions"].as_u64().unwrap_or(8) as usize;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let seed = text
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            let vector: Vec<f32> = (0..dims)
                .map(|i| ((seed.wrapping_add(i as u32) % 1000) as f32) / 1000.0)
                .collect();
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    let tokens: usize = inputs
        .iter()
        .map(|t| t.split_whitespace().count().max(1))
        .sum();
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"object": "list", "data": data, "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        .to_string(),
    }
}
