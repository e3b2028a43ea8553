//! 100,000 generated scenarios through one real server: 8 mock upstreams tagged with
//! jurisdictions, operators, hostings and retention terms; 40 generated route graphs over
//! them (1-4 deployments, every strategy, retries); 48 generated policies (allowed and denied
//! jurisdictions, operators, hostings, zero retention, models), one or two per request by
//! header; fault sequences (500, 503, 429 with Retry-After, 400) queued on the upstreams as
//! the run goes, so that retries, fallbacks, open breakers and cool-downs (the gateway's
//! health state, carried from case to case) all take part; plain and streamed requests, eight
//! at a time. The response cache is on, and one case in seven repeats an earlier one (the
//! same route, policies and prompt), so that answers kept from earlier cases are served too.
//!
//! Each request carries its case number; afterwards every request each mock received is
//! checked against that case's policies: a mock is never reached by a request whose policies
//! refuse it (the count of such hits must be 0). Every 200 names an allowed deployment;
//! every request with no allowed deployment is a 403 `policy_denied`. Four OTLP collectors,
//! tagged the same way, receive the requests' log records: none receives a request whose
//! policies refuse it either.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchyard_policy::{Policy, PolicySpec, Tags};
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{Hosting, Retention};

mod common;
use common::Gateway;

const CASES: usize = 100_000;
const UPSTREAMS: usize = 8;
const ROUTES: usize = 40;
const POLICIES: usize = 48;
const WORKERS: usize = 8;
const EXPORTERS: usize = 4;

const PLACES: [&str; 12] = [
    "DE", "FR", "US", "CH", "EU", "GLOBAL", "UNKNOWN", "JP", "NO", "GB", "EEA", "LOCAL",
];
const LISTS: [&str; 9] = ["EU", "EEA", "CH", "US", "DE", "FR", "APAC", "UK", "EFTA"];
const OPERATORS: [&str; 4] = ["aws", "mistral", "self", "openai"];
const STRATEGIES: [&str; 5] = [
    "priority",
    "weighted",
    "least-busy",
    "least-latency",
    "cheapest",
];

/// Deterministic xorshift64*: the same scenarios on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn some<'a>(&mut self, items: &[&'a str], max: usize) -> Vec<&'a str> {
        let n = 1 + self.below(max);
        let mut out: Vec<&str> = Vec::new();
        while out.len() < n.min(items.len()) {
            let item = items[self.below(items.len())];
            if !out.contains(&item) {
                out.push(item);
            }
        }
        out
    }
}

struct Upstream {
    place: &'static str,
    operator: &'static str,
    hosting: Hosting,
    retention: Retention,
}

/// Generated tags for an upstream or a collector.
fn tagged(rng: &mut Rng) -> Upstream {
    Upstream {
        place: PLACES[rng.below(PLACES.len())],
        operator: OPERATORS[rng.below(OPERATORS.len())],
        hosting: [Hosting::Cloud, Hosting::OnPrem, Hosting::Embedded][rng.below(3)],
        retention: if rng.chance(40) {
            Retention::Zero
        } else {
            Retention::Days(30)
        },
    }
}

/// The tags of an upstream or a collector, as written in the config.
fn tag_lines(u: &Upstream) -> String {
    format!(
        "jurisdiction = \"{}\"\noperator = \"{}\"\nhosting = \"{}\"\nretention = \"{}\"\n",
        u.place,
        u.operator,
        u.hosting.as_str(),
        if u.retention == Retention::Zero {
            "zero"
        } else {
            "30d"
        },
    )
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

struct World {
    config: String,
    routes: Vec<Vec<usize>>,
    /// allowed[policy][route][upstream]
    allowed: Vec<Vec<[bool; UPSTREAMS]>>,
    mocks: Vec<MockOpenAi>,
    /// exportable[policy][exporter]
    exportable: Vec<[bool; EXPORTERS]>,
    collectors: Vec<Collector>,
}

/// An OTLP/HTTP collector keeping the request ids of the log records it receives.
#[derive(Clone, Default)]
struct Collector {
    ids: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Collector {
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let keep = collector.clone();
        let app = axum::Router::new().route(
            "/v1/logs",
            axum::routing::post(move |body: String| {
                let keep = keep.clone();
                async move {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    let mut ids = keep.ids.lock().unwrap();
                    for r in v["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                        .as_array()
                        .unwrap()
                    {
                        let id = r["attributes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|a| a["key"] == "switchyard.request_id")
                            .unwrap();
                        ids.push(id["value"]["stringValue"].as_str().unwrap().to_owned());
                    }
                    "{}"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (collector, url)
    }
}

async fn world(rng: &mut Rng) -> World {
    let mut text = String::from(
        "[cache]\nenabled = true\n\n[routing]\nmax_retries = 3\nretry_backoff_s = 0.001\nbreaker_failures = 5\nbreaker_open_s = 0.05\n\n",
    );
    let mut upstreams = Vec::new();
    let mut mocks = Vec::new();
    for i in 0..UPSTREAMS {
        let mock = MockOpenAi::start().await.unwrap();
        let u = tagged(rng);
        text.push_str(&format!(
            "[[providers]]\nid = \"u{i}\"\ntype = \"openai\"\nbase_url = \"{}\"\n{}\n",
            mock.base_url(),
            tag_lines(&u),
        ));
        upstreams.push(u);
        mocks.push(mock);
    }
    let mut routes = Vec::new();
    for r in 0..ROUTES {
        let n = 1 + rng.below(4);
        let mut route: Vec<usize> = Vec::new();
        while route.len() < n {
            let u = rng.below(UPSTREAMS);
            if !route.contains(&u) {
                route.push(u);
            }
        }
        let targets: Vec<String> = route
            .iter()
            .map(|u| format!("{{ provider = \"u{u}\", model = \"m{u}\" }}"))
            .collect();
        text.push_str(&format!(
            "[[models]]\nname = \"r{r}\"\nstrategy = \"{}\"\nroute = [{}]\n\n",
            STRATEGIES[rng.below(STRATEGIES.len())],
            targets.join(", ")
        ));
        routes.push(route);
    }
    let mut sinks = Vec::new();
    let mut collectors = Vec::new();
    for e in 0..EXPORTERS {
        let (collector, url) = Collector::start().await;
        let u = tagged(rng);
        text.push_str(&format!(
            "[[exporters]]\nname = \"x{e}\"\nendpoint = \"{url}\"\nsignals = [\"logs\"]\n{}\n",
            tag_lines(&u),
        ));
        sinks.push(u);
        collectors.push(collector);
    }
    let route_names: Vec<String> = (0..ROUTES).map(|r| format!("r{r}")).collect();
    let route_refs: Vec<&str> = route_names.iter().map(String::as_str).collect();
    let mut allowed = Vec::new();
    let mut exportable = Vec::new();
    for p in 0..POLICIES {
        let mut spec = PolicySpec {
            name: format!("p{p}"),
            ..PolicySpec::default()
        };
        text.push_str(&format!("[[policies]]\nname = \"p{p}\"\n"));
        if rng.chance(45) {
            let list = rng.some(&LISTS, 3);
            text.push_str(&format!("allow_jurisdictions = [{}]\n", quoted(&list)));
            spec.allow_jurisdictions = Some(list.iter().map(|s| s.to_string()).collect());
        }
        if rng.chance(30) {
            let list = rng.some(&LISTS, 1);
            text.push_str(&format!("deny_jurisdictions = [{}]\n", quoted(&list)));
            spec.deny_jurisdictions = list.iter().map(|s| s.to_string()).collect();
        }
        if rng.chance(20) {
            let list = rng.some(&OPERATORS, 2);
            text.push_str(&format!("allow_operators = [{}]\n", quoted(&list)));
            spec.allow_operators = Some(list.iter().map(|s| s.to_string()).collect());
        }
        if rng.chance(20) {
            text.push_str("hosting = [\"on-prem-only\"]\n");
            spec.hosting = Some(vec!["on-prem-only".into()]);
        }
        if rng.chance(20) {
            text.push_str("zero_retention = true\n");
            spec.zero_retention = true;
        }
        if rng.chance(10) {
            let list = rng.some(&route_refs, 10);
            text.push_str(&format!("allow_models = [{}]\n", quoted(&list)));
            spec.allow_models = Some(list.iter().map(|s| s.to_string()).collect());
        }
        text.push('\n');
        let policy = Policy::new(&spec).unwrap();
        let per_route = (0..ROUTES)
            .map(|r| {
                let mut row = [false; UPSTREAMS];
                for (u, up) in upstreams.iter().enumerate() {
                    let tags = Tags::new(up.place, up.operator, up.hosting, up.retention).unwrap();
                    row[u] = policy.check(&format!("r{r}"), &tags).is_ok();
                }
                row
            })
            .collect();
        allowed.push(per_route);
        let mut row = [false; EXPORTERS];
        for (e, sink) in sinks.iter().enumerate() {
            let tags = Tags::new(sink.place, sink.operator, sink.hosting, sink.retention).unwrap();
            row[e] = policy.check_place(&tags).is_ok();
        }
        exportable.push(row);
    }
    World {
        config: text,
        routes,
        allowed,
        mocks,
        exportable,
        collectors,
    }
}

/// One case: a route, its policies (none, one or two), stream or not, a fault to queue, and
/// whose prompt it sends (its own number, or that of the earlier case it repeats).
#[derive(Clone, Copy)]
struct Case {
    route: usize,
    policies: [Option<usize>; 2],
    stream: bool,
    fault: Option<(usize, u8)>,
    prompt: usize,
}

fn cases(rng: &mut Rng, routes: &[Vec<usize>]) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::with_capacity(CASES);
    for i in 0..CASES {
        let route = rng.below(ROUTES);
        let first = (!rng.chance(5)).then(|| rng.below(POLICIES));
        let second = (first.is_some() && rng.chance(30)).then(|| rng.below(POLICIES));
        let fault = rng.chance(10).then(|| {
            let upstream = routes[route][rng.below(routes[route].len())];
            (upstream, [0, 0, 0, 0, 1, 1, 1, 2, 3, 3][rng.below(10)])
        });
        let mut case = Case {
            route,
            policies: [first, second],
            stream: rng.chance(30),
            fault,
            prompt: i,
        };
        // A repeat of a recent case: the same request, later, in another state.
        if i > 0 && rng.chance(14) {
            let earlier = out[i - 1 - rng.below(i.min(200))];
            case = Case {
                fault: case.fault,
                ..earlier
            };
        }
        out.push(case);
    }
    out
}

fn exportable(world: &World, case: &Case, exporter: usize) -> bool {
    case.policies
        .iter()
        .flatten()
        .all(|&p| world.exportable[p][exporter])
}

fn allowed(world: &World, case: &Case, upstream: usize) -> bool {
    case.policies
        .iter()
        .flatten()
        .all(|&p| world.allowed[p][case.route][upstream])
}

#[test]
fn one_hundred_thousand_scenarios_never_reach_a_refused_upstream() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut rng = Rng(0x0005_eed0_f50f_7e57);
        let world = Arc::new(world(&mut rng).await);
        let cases = Arc::new(cases(&mut rng, &world.routes));
        let config = switchyard_config::load_str(&world.config, &|_| None).unwrap();
        let gateway = Gateway::serve(&config, Duration::from_secs(5)).await;
        let next = Arc::new(AtomicUsize::new(0));
        // Each case's request id, for the collectors' side.
        let ids: Arc<std::sync::Mutex<Vec<String>>> =
            Arc::new(std::sync::Mutex::new(vec![String::new(); CASES]));
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (world, cases, next, url, ids) = (
                world.clone(),
                cases.clone(),
                next.clone(),
                gateway.url.clone(),
                ids.clone(),
            );
            workers.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut tally = [0usize; 5];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if let Some((upstream, kind)) = case.fault {
                        world.mocks[upstream].push(match kind {
                            0 => Reply::error(500, "server_error", "boom", None),
                            1 => Reply::error(503, "server_error", "overloaded", None),
                            2 => Reply::error(429, "rate_limit_error", "slow down", Some("0")),
                            _ => Reply::error(400, "invalid_request_error", "bad", None),
                        });
                    }
                    let names: Vec<String> = case
                        .policies
                        .iter()
                        .flatten()
                        .map(|p| format!("p{p}"))
                        .collect();
                    let mut request = client
                        .post(format!("{url}/v1/chat/completions"))
                        .header("content-type", "application/json")
                        .body(
                            json!({"model": format!("r{}", case.route), "stream": case.stream, "max_tokens": 8,
                                "messages": [{"role": "user", "content": format!("case {}", case.prompt)}]})
                            .to_string(),
                        );
                    if !names.is_empty() {
                        request = request.header("x-switchyard-policy", names.join(","));
                    }
                    let resp = request.send().await.unwrap();
                    let status = resp.status().as_u16();
                    let served = resp
                        .headers()
                        .get("x-switchyard-deployment")
                        .map(|v| v.to_str().unwrap().to_owned());
                    ids.lock().unwrap()[i] =
                        resp.headers()["x-request-id"].to_str().unwrap().to_owned();
                    if resp.headers().contains_key("x-switchyard-cache") {
                        tally[4] += 1;
                    }
                    let body = resp.text().await.unwrap();
                    let any_allowed = world.routes[case.route]
                        .iter()
                        .any(|&u| allowed(&world, case, u));
                    if !any_allowed {
                        assert_eq!(status, 403, "case {i}: {body}");
                        let v: Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(v["error"]["code"], "policy_denied", "case {i}");
                        tally[1] += 1;
                    } else if status == 200 {
                        let served = served.unwrap();
                        let u: usize = served[1..served.find('/').unwrap()].parse().unwrap();
                        assert!(allowed(&world, case, u), "case {i} served by refused {served}");
                        tally[0] += 1;
                    } else {
                        assert_ne!(status, 403, "case {i}: an allowed deployment exists: {body}");
                        tally[if status == 400 { 2 } else { 3 }] += 1;
                    }
                }
                tally
            }));
        }
        let mut tally = [0usize; 5];
        for w in workers {
            let t = w.await.unwrap();
            for k in 0..5 {
                tally[k] += t[k];
            }
        }
        // Every request each upstream received was allowed by its case's policies.
        let mut hits = 0usize;
        let mut refused_hits = Vec::new();
        for (u, mock) in world.mocks.iter().enumerate() {
            for recorded in mock.requests() {
                let body = recorded.json();
                let text = body["messages"][0]["content"].as_str().unwrap_or("").to_owned();
                let i: usize = text.trim_start_matches("case ").parse().unwrap();
                hits += 1;
                if !allowed(&world, &cases[i], u) {
                    refused_hits.push((i, u));
                }
            }
        }
        // Every log record each collector received was allowed by its case's policies.
        let case_of: std::collections::HashMap<String, usize> = ids
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let admitted: usize = (0..EXPORTERS)
            .map(|e| (0..CASES).filter(|&i| exportable(&world, &cases[i], e)).count())
            .sum();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let received = || -> usize { world.collectors.iter().map(|c| c.ids.lock().unwrap().len()).sum() };
        while received() < admitted && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut exported = 0usize;
        let mut refused_exports = Vec::new();
        for (e, collector) in world.collectors.iter().enumerate() {
            for id in collector.ids.lock().unwrap().iter() {
                let i = case_of[id];
                exported += 1;
                if !exportable(&world, &cases[i], e) {
                    refused_exports.push((i, e));
                }
            }
        }
        eprintln!(
            "{CASES} scenarios: {} served ({} from the cache), {} refused by policy (403), {} client errors, {} upstream failures; {hits} upstream hits, {} by a refused request; {exported} log records exported of {admitted} admitted, {} to a refused collector",
            tally[0],
            tally[4],
            tally[1],
            tally[2],
            tally[3],
            refused_hits.len(),
            refused_exports.len()
        );
        assert!(refused_exports.is_empty(), "refused collectors reached: {:?}", &refused_exports[..refused_exports.len().min(10)]);
        assert_eq!(exported, admitted, "every admitted record arrives (no queue overflowed)");
        assert_eq!(tally[..4].iter().sum::<usize>(), CASES);
        assert!(tally[4] > CASES / 50, "the cache took part: {tally:?}");
        assert!(refused_hits.is_empty(), "refused upstreams reached: {:?}", &refused_hits[..refused_hits.len().min(10)]);
        assert!(tally[0] > CASES / 4 && tally[1] > CASES / 20, "{tally:?}");
    });
}
