//! Generated policies x route graphs x fault sequences, through the real server and mock
//! upstreams tagged with jurisdictions, hostings and retention terms: a request whose
//! policies refuse a deployment never reaches it (its mock counts zero requests), on the
//! first attempt, on retries and on fallbacks; an answer always names an allowed deployment;
//! with no allowed deployment the answer is a 403 `policy_denied`.
//!
//! The same property is checked on the pure path (policy x tags, no IO) over 100,000 cases in
//! `crates/policy` (`every_refusal_is_consistent_with_the_country_sets`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use switchyard_policy::{Policy, PolicySpec, Tags};
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{Hosting, Retention};

mod common;
use common::Gateway;

const PLACES: [&str; 11] = [
    "DE", "FR", "US", "CH", "EU", "GLOBAL", "UNKNOWN", "JP", "NO", "GB", "EEA",
];
const LISTS: [&str; 8] = ["EU", "EEA", "CH", "US", "DE", "FR", "APAC", "UK"];

#[derive(Debug, Clone)]
struct Upstream {
    place: &'static str,
    on_prem: bool,
    zero_retention: bool,
    /// Scripted failures before it answers normally: 500s or 429s.
    failures: Vec<bool>,
}

#[derive(Debug, Clone)]
struct Case {
    upstreams: Vec<Upstream>,
    allow: Option<Vec<&'static str>>,
    deny: Vec<&'static str>,
    on_prem_only: bool,
    zero_retention: bool,
    strategy: &'static str,
    max_retries: u32,
    requests: usize,
    stream: bool,
    as_default: bool,
}

fn upstream() -> impl Strategy<Value = Upstream> {
    (
        prop::sample::select(PLACES.to_vec()),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 0..3),
    )
        .prop_map(|(place, on_prem, zero_retention, failures)| Upstream {
            place,
            on_prem,
            zero_retention,
            failures,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(upstream(), 1..5),
        prop::option::of(prop::sample::subsequence(LISTS.to_vec(), 1..3)),
        prop::sample::subsequence(LISTS.to_vec(), 0..2),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        prop::sample::select(vec![
            "priority",
            "weighted",
            "least-busy",
            "least-latency",
            "cheapest",
        ]),
        0u32..4,
        1usize..4,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                upstreams,
                allow,
                deny,
                on_prem_only,
                zero_retention,
                strategy,
                max_retries,
                requests,
                stream,
                as_default,
            )| Case {
                upstreams,
                allow,
                deny,
                on_prem_only,
                zero_retention,
                strategy,
                max_retries,
                requests,
                stream,
                as_default,
            },
        )
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run(case: Case) -> Result<(), TestCaseError> {
    let mut mocks = Vec::new();
    // `default_policy` is a top-level key: it comes before any table.
    let mut text = String::new();
    if case.as_default {
        text.push_str("default_policy = \"p\"\n");
    }
    text.push_str(&format!(
        "[routing]\nmax_retries = {}\n\n",
        case.max_retries
    ));
    let mut route = Vec::new();
    for (i, u) in case.upstreams.iter().enumerate() {
        let mock = MockOpenAi::start().await.unwrap();
        for &rate_limited in &u.failures {
            mock.push(if rate_limited {
                Reply::error(429, "rate_limit_error", "slow down", Some("1"))
            } else {
                Reply::error(500, "server_error", "boom", None)
            });
        }
        text.push_str(&format!(
            "[[providers]]\nid = \"u{i}\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"{}\"\nhosting = \"{}\"\nretention = \"{}\"\n\n",
            mock.base_url(),
            u.place,
            if u.on_prem { "on-prem" } else { "cloud" },
            if u.zero_retention { "zero" } else { "30d" },
        ));
        route.push(format!("{{ provider = \"u{i}\", model = \"m{i}\" }}"));
        mocks.push(mock);
    }
    text.push_str(&format!(
        "[[models]]\nname = \"chat\"\nstrategy = \"{}\"\nroute = [{}]\n\n[[policies]]\nname = \"p\"\n",
        case.strategy,
        route.join(", ")
    ));
    if let Some(allow) = &case.allow {
        text.push_str(&format!("allow_jurisdictions = [{}]\n", quoted(allow)));
    }
    if !case.deny.is_empty() {
        text.push_str(&format!("deny_jurisdictions = [{}]\n", quoted(&case.deny)));
    }
    if case.on_prem_only {
        text.push_str("hosting = [\"on-prem-only\"]\n");
    }
    if case.zero_retention {
        text.push_str("zero_retention = true\n");
    }
    let config = switchyard_config::load_str(&text, &|_| None)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    // The oracle: the policy evaluated on its own.
    let policy = Policy::new(&PolicySpec {
        name: "p".into(),
        allow_jurisdictions: case
            .allow
            .as_ref()
            .map(|l| l.iter().map(|s| s.to_string()).collect()),
        deny_jurisdictions: case.deny.iter().map(|s| s.to_string()).collect(),
        hosting: case.on_prem_only.then(|| vec!["on-prem-only".to_owned()]),
        zero_retention: case.zero_retention,
        ..PolicySpec::default()
    })
    .unwrap();
    let allowed: Vec<bool> = case
        .upstreams
        .iter()
        .map(|u| {
            let tags = Tags::new(
                u.place,
                "op",
                if u.on_prem {
                    Hosting::OnPrem
                } else {
                    Hosting::Cloud
                },
                if u.zero_retention {
                    Retention::Zero
                } else {
                    Retention::Days(30)
                },
            )
            .unwrap();
            policy.check("chat", &tags).is_ok()
        })
        .collect();
    let gateway = Gateway::serve(&config, Duration::from_secs(5)).await;
    let client = reqwest::Client::new();
    for _ in 0..case.requests {
        let mut request = client.post(format!("{}/v1/chat/completions", gateway.url)).json(
            &json!({"model": "chat", "stream": case.stream, "messages": [{"role": "user", "content": "hi"}]}),
        );
        if !case.as_default {
            request = request.header("x-switchyard-policy", "p");
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        let served = resp
            .headers()
            .get("x-switchyard-deployment")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = resp.text().await.unwrap();
        if !allowed.contains(&true) {
            prop_assert_eq!(status, 403, "{}", body);
            let v: Value = serde_json::from_str(&body).unwrap();
            prop_assert_eq!(&v["error"]["code"], "policy_denied");
        }
        if status == 200 {
            let served = served.unwrap();
            let index: usize = served
                .trim_start_matches('u')
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            prop_assert!(
                allowed[index],
                "served by refused {} ({:?})",
                served,
                case.upstreams[index]
            );
        }
    }
    for (i, mock) in mocks.iter().enumerate() {
        if !allowed[i] {
            prop_assert_eq!(
                mock.request_count(),
                0,
                "refused upstream u{} ({}) was reached",
                i,
                case.upstreams[i].place
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_request_reaches_a_deployment_its_policy_refuses(case in case()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(case))?;
    }
}
