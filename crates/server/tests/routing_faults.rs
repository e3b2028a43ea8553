//! Generated route configs x generated fault sequences, through the real server and mock
//! upstreams: every request ends in exactly one of {served by a deployment of its route,
//! a clear error}, never makes more upstream attempts than `1 + max_retries`, is never
//! retried after a client error or after its stream committed, and ends in bounded time even
//! when upstreams hang, stall or drip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{json, Value};
use switchyard_testkit::openai::sse_text_pieces;
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};

mod common;
use common::Gateway;

/// What one upstream does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A normal answer (what the mock also does once its script runs out).
    Answer,
    /// A normal stream, its events dripped 30 ms apart (under the idle timeout).
    DripFeed,
    Status500,
    Status503,
    Status529,
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 400: the request's fault; never retried.
    BadRequest,
    /// Never answers (the first-byte timeout ends it).
    Hang,
    /// Headers, then silence before any content (the idle timeout ends it; not committed).
    StallBeforeContent,
    /// Headers, then the connection is cut before any content.
    ResetBeforeContent,
    /// A first event that is not JSON: an answer that cannot be understood; not retried.
    Malformed,
    /// Content, then the connection is cut (after commit).
    ResetMidStream,
    /// Content, then silence (after commit; the idle timeout ends it).
    StallMidStream,
}

impl Fault {
    /// Failures after which the gateway may try again (before anything reached the client).
    fn retryable(self) -> bool {
        matches!(
            self,
            Fault::Status500
                | Fault::Status503
                | Fault::Status529
                | Fault::RateLimited
                | Fault::Hang
                | Fault::StallBeforeContent
                | Fault::ResetBeforeContent
        )
    }

    fn stream_only(self) -> bool {
        matches!(
            self,
            Fault::DripFeed
                | Fault::StallBeforeContent
                | Fault::ResetBeforeContent
                | Fault::Malformed
                | Fault::ResetMidStream
                | Fault::StallMidStream
        )
    }

    fn reply(self, stream: bool) -> Reply {
        let events = || sse_text_pieces("gpt-4o-mini", &["hello ", "world"], true);
        let error = |status, kind| Reply::error(status, kind, "scripted", None);
        match self {
            Fault::Answer if stream => Reply::sse_events(events()),
            Fault::Answer => Reply::text("hello world"),
            Fault::DripFeed => Reply::sse_paced(events(), Duration::from_millis(30), SseEnd::Close),
            Fault::Status500 => error(500, "server_error"),
            Fault::Status503 => error(503, "server_error"),
            Fault::Status529 => error(529, "overloaded_error"),
            Fault::RateLimited => Reply::error(429, "rate_limit_exceeded", "slow down", Some("1")),
            Fault::BadRequest => error(400, "invalid_request_error"),
            Fault::Hang => Reply::Hang,
            Fault::StallBeforeContent => Reply::Sse {
                pieces: vec![(Duration::from_secs(30), Bytes::from(events().remove(0)))],
                end: SseEnd::Close,
            },
            Fault::ResetBeforeContent => Reply::Sse {
                pieces: vec![(Duration::ZERO, Bytes::from(events().remove(0)))],
                end: SseEnd::Reset,
            },
            Fault::Malformed => Reply::sse_events(vec!["data: {not json\n\n".to_owned()]),
            Fault::ResetMidStream => {
                Reply::sse_paced(events()[..2].to_vec(), Duration::ZERO, SseEnd::Reset)
            }
            Fault::StallMidStream => {
                Reply::sse_paced(events()[..2].to_vec(), Duration::ZERO, SseEnd::Hold)
            }
        }
    }
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::Answer),
        1 => Just(Fault::DripFeed),
        2 => Just(Fault::Status500),
        1 => Just(Fault::Status503),
        1 => Just(Fault::Status529),
        1 => Just(Fault::RateLimited),
        1 => Just(Fault::BadRequest),
        1 => Just(Fault::Hang),
        1 => Just(Fault::StallBeforeContent),
        1 => Just(Fault::ResetBeforeContent),
        1 => Just(Fault::Malformed),
        1 => Just(Fault::ResetMidStream),
        1 => Just(Fault::StallMidStream),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    strategy: &'static str,
    /// Per deployment: its weight and its upstream's script.
    deployments: Vec<(u32, Vec<Fault>)>,
    max_retries: u32,
    retry_budget: f64,
    breaker_failures: u32,
    stream: bool,
    requests: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec![
            "priority",
            "weighted",
            "least-latency",
            "least-busy",
            "cheapest",
        ]),
        prop::collection::vec((1u32..4, prop::collection::vec(fault(), 0..5)), 1..4),
        0u32..4,
        prop::sample::select(vec![0.2, 1.0]),
        1u32..4,
        any::<bool>(),
        2usize..6,
    )
        .prop_map(
            |(
                strategy,
                deployments,
                max_retries,
                retry_budget,
                breaker_failures,
                stream,
                requests,
            )| {
                let deployments = deployments
                    .into_iter()
                    .map(|(weight, faults)| {
                        let faults = faults
                            .into_iter()
                            .map(|f| {
                                if !stream && f.stream_only() {
                                    Fault::Answer
                                } else {
                                    f
                                }
                            })
                            .collect();
                        (weight, faults)
                    })
                    .collect();
                Case {
                    strategy,
                    deployments,
                    max_retries,
                    retry_budget,
                    breaker_failures,
                    stream,
                    requests,
                }
            },
        )
}

const FIRST_BYTE_S: f64 = 0.25;
const IDLE_S: f64 = 0.25;

async fn run(case: Case) -> Result<(), TestCaseError> {
    let mut mocks = Vec::new();
    let mut text = format!(
        "[routing]\nmax_retries = {}\nretry_budget = {}\nretry_backoff_s = 0.01\nbreaker_failures = {}\nbreaker_open_s = 0.3\n\n\
         [timeouts]\nfirst_byte_s = {FIRST_BYTE_S}\nidle_s = {IDLE_S}\ntotal_s = 5\n\n",
        case.max_retries, case.retry_budget, case.breaker_failures
    );
    let mut route = Vec::new();
    for (i, (weight, faults)) in case.deployments.iter().enumerate() {
        let mock = MockOpenAi::start().await.unwrap();
        for f in faults {
            mock.push(f.reply(case.stream));
        }
        // Then normal answers, scripted too so that every answer's text is known.
        for _ in 0..case.requests * (1 + case.max_retries as usize) {
            mock.push(Fault::Answer.reply(case.stream));
        }
        text.push_str(&format!(
            "[[providers]]\nid = \"p{i}\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"k\"\n\n",
            mock.base_url()
        ));
        route.push(format!(
            "{{ provider = \"p{i}\", model = \"gpt-4o-mini\", weight = {weight}, price = {{ input = {}, output = 1.0 }} }}",
            i + 1
        ));
        mocks.push(mock);
    }
    text.push_str(&format!(
        "[[models]]\nname = \"m\"\nstrategy = \"{}\"\nroute = [{}]\n",
        case.strategy,
        route.join(", ")
    ));
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_secs(5)).await;
    let client = reqwest::Client::new();
    let max_attempts = 1 + case.max_retries as usize;
    let mut consumed = vec![0usize; mocks.len()];
    for request in 0..case.requests {
        let started = Instant::now();
        let resp = client
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&json!({
                "model": "m",
                "stream": case.stream,
                "messages": [{"role": "user", "content": "hi"}],
            }))
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let deployment = header("x-switchyard-deployment");
        let attempts = header("x-switchyard-attempts");
        let body = resp
            .text()
            .await
            .map_err(|e| TestCaseError::fail(format!("body cut: {e}")))?;
        let took = started.elapsed();

        // What each upstream was sent during this request, and how it was scripted to act.
        let mut hits: Vec<(std::time::Instant, usize, Fault)> = Vec::new();
        for (d, mock) in mocks.iter().enumerate() {
            let recorded = mock.requests();
            for (k, r) in recorded.iter().enumerate().skip(consumed[d]) {
                let f = case.deployments[d]
                    .1
                    .get(k)
                    .copied()
                    .unwrap_or(Fault::Answer);
                hits.push((r.at, d, f));
            }
            consumed[d] = recorded.len();
        }
        hits.sort_by_key(|h| h.0);
        let hits: Vec<(usize, Fault)> = hits.into_iter().map(|(_, d, f)| (d, f)).collect();
        prop_assert!(
            hits.len() <= max_attempts,
            "{} attempts, budget {max_attempts}: {hits:?}",
            hits.len()
        );
        // Every attempt but the last failed in a retryable way.
        let terminal: Vec<&(usize, Fault)> = hits.iter().filter(|(_, f)| !f.retryable()).collect();
        prop_assert!(
            terminal.len() <= 1,
            "went on after a final outcome: {hits:?}"
        );
        if let Some(t) = terminal.first() {
            prop_assert_eq!(hits.last(), Some(*t), "went on after a final outcome");
        }
        let bound = hits.len() as f64 * (FIRST_BYTE_S + IDLE_S + 0.1) + 1.0;
        prop_assert!(
            took.as_secs_f64() <= bound,
            "took {took:?} for {hits:?} (bound {bound} s)"
        );

        match terminal.first().map(|(d, f)| (*d, *f)) {
            Some((d, Fault::Answer | Fault::DripFeed)) => {
                prop_assert_eq!(status, 200, "{}", body);
                prop_assert_eq!(deployment, Some(format!("p{d}/gpt-4o-mini")));
                prop_assert_eq!(attempts, Some(hits.len().to_string()));
                if case.stream {
                    prop_assert!(
                        body.contains("hello ") && body.contains("world"),
                        "{}",
                        body
                    );
                    prop_assert!(body.ends_with("data: [DONE]\n\n"), "{}", body);
                } else {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    prop_assert_eq!(&v["choices"][0]["message"]["content"], "hello world");
                }
            }
            Some((d, Fault::ResetMidStream | Fault::StallMidStream)) => {
                // Committed: the client has the first content and an in-band error, and
                // nothing was tried after.
                prop_assert_eq!(status, 200);
                prop_assert_eq!(deployment, Some(format!("p{d}/gpt-4o-mini")));
                prop_assert!(body.contains("hello "), "{}", body);
                prop_assert!(!body.contains("data: [DONE]"), "{}", body);
                let last = body.trim_end().rsplit("\n\n").next().unwrap_or("");
                prop_assert!(last.contains("\"error\""), "{}", body);
            }
            Some((_, Fault::BadRequest)) => {
                prop_assert_eq!(status, 400, "{}", body);
                clear_error(&body)?;
            }
            Some((_, Fault::Malformed)) => {
                prop_assert_eq!(status, 502, "{}", body);
                clear_error(&body)?;
            }
            Some((_, other)) => prop_assert!(false, "unexpected terminal fault {other:?}"),
            None => {
                // Only retryable failures (or none: nothing admitted): a clear error.
                prop_assert!(
                    matches!(status, 429 | 502 | 503 | 504),
                    "status {} after {:?}: {}",
                    status,
                    hits,
                    body
                );
                clear_error(&body)?;
                if request == 0 && hits.len() < max_attempts {
                    // Health was fresh and the retry budget full: giving up early is only
                    // right when every deployment was excluded for this request (timed
                    // out, rate-limited) or ejected by the failures it just had.
                    let left = (0..case.deployments.len()).find(|&d| {
                        let mine = hits.iter().filter(|h| h.0 == d);
                        let excluded = mine.clone().any(|h| {
                            matches!(
                                h.1,
                                Fault::Hang | Fault::StallBeforeContent | Fault::RateLimited
                            )
                        });
                        !excluded && (mine.count() as u32) < case.breaker_failures
                    });
                    prop_assert_eq!(left, None, "gave up with a deployment left: {:?}", hits);
                }
            }
        }
    }
    Ok(())
}

fn clear_error(body: &str) -> Result<(), TestCaseError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| TestCaseError::fail(format!("error body is not JSON ({e}): {body}")))?;
    prop_assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        body
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_request_is_served_or_refused_within_its_attempt_budget(case in case()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(case))?;
    }
}
