//! Two `switchyard serve` processes sharing PostgreSQL and Redis, as a production pair runs,
//! with tenants and keys made by the CLI: a budget holds exactly across both under 1,000
//! concurrent requests; and after a `kill -9` of one under load, no answer delivered in full
//! loses its ledger row or gets two, and the budget holds the killed process left in Redis
//! lapse at their deadline. Needs `SWITCHYARD_TEST_POSTGRES_URL` and
//! `SWITCHYARD_TEST_REDIS_URL` (scripts/test starts both); skipped without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Child, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use support::{answers, spawn_serve, switchyard, tempdir, write_config, Reaper};
use switchyard_governance::shared::Shared;
use switchyard_testkit::MockOpenAi;

const PEPPER: &str = "replica-pair-pepper-0a1b2c3d4e5f6a7b8c9d";
const CHAT: &str = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;

/// A database of this test's own on the test server.
async fn fresh_database(url: &str) -> String {
    let admin = switchyard_store::Store::open(url).await.unwrap();
    let name = format!("sy_cli_{:016x}", fastrand::u64(..));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{name}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value after `name` in a command's output (`id:`, `key:`).
fn field(out: &Output, name: &str) -> String {
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {out:?}"))
}

/// Two replicas' configs (one database, one Redis, a mock upstream), each with a home of its
/// own (its own ledger spool, as on two machines).
struct Pair {
    redis: String,
    mock: MockOpenAi,
    urls: [String; 2],
    configs: Vec<(tempdir::Dir, String)>,
    homes: [tempdir::Dir; 2],
    reaper: Reaper,
}

impl Pair {
    /// `None` without the test services. `price` is the model's price per million tokens.
    async fn new(input_price: f64, output_price: f64) -> Option<Pair> {
        let (Ok(pg), Ok(redis)) = (
            std::env::var("SWITCHYARD_TEST_POSTGRES_URL"),
            std::env::var("SWITCHYARD_TEST_REDIS_URL"),
        ) else {
            eprintln!("PostgreSQL or Redis for tests not set: two-process test skipped");
            return None;
        };
        let database = fresh_database(&pg).await;
        let mock = MockOpenAi::start().await.unwrap();
        let ports = [free_port(), free_port()];
        let configs = ports
            .iter()
            .map(|port| {
                write_config(&format!(
                    "listen = \"127.0.0.1:{port}\"\n\
                     [store]\nurl = \"{database}\"\nredis_url = \"{redis}\"\nreplicas = 2\nreservation_timeout_s = 10\n\
                     [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
                     [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"house\", price = {{ input = {input_price:?}, output = {output_price:?} }} }}]\n",
                    mock.base_url()
                ))
            })
            .collect();
        Some(Pair {
            redis,
            mock,
            urls: ports.map(|p| format!("http://127.0.0.1:{p}")),
            configs,
            homes: [tempdir::Dir::new(), tempdir::Dir::new()],
            reaper: Reaper::default(),
        })
    }

    fn env(&self, i: usize) -> [(&'static str, String); 2] {
        [
            ("SWITCHYARD_HOME", self.homes[i].path.display().to_string()),
            ("SWITCHYARD_KEY_PEPPER", PEPPER.to_owned()),
        ]
    }

    /// A CLI command on the shared store.
    fn cli(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--config", self.configs[0].1.as_str()]);
        let env = self.env(0);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        switchyard(&all, &pairs)
    }

    /// Starts replica `i` and waits until it answers.
    async fn start(&mut self, i: usize) -> Child {
        let env = self.env(i);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let child = spawn_serve(&self.configs[i].1, &pairs, false);
        self.reaper.0.push(child.id());
        assert!(
            answers(&format!("{}/healthz", self.urls[i])).await,
            "replica {i} did not start"
        );
        child
    }

    /// Asks replica `i`; the status and the request id.
    async fn ask(&self, client: &reqwest::Client, i: usize, secret: &str) -> (u16, String) {
        let resp = client
            .post(format!("{}/v1/chat/completions", self.urls[i]))
            .bearer_auth(secret)
            .header("content-type", "application/json")
            .body(CHAT)
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        let status = resp.status().as_u16();
        resp.bytes().await.unwrap();
        (status, id)
    }

    /// The request ids of the ledger's rows, through `switchyard usage --csv`.
    fn ledger_ids(&self, filter: &[&str]) -> Vec<String> {
        let mut args = vec!["usage", "--csv"];
        args.extend(filter);
        let csv = self.cli(&args);
        String::from_utf8_lossy(&csv.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next().map(str::to_owned))
            .collect()
    }
}

fn stop(children: impl IntoIterator<Item = Child>) {
    for child in children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait_with_output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_exactly_across_two_processes() {
    // An answer (12 + 9 tokens) costs $0.075; a request may cost up to about $0.1.
    let Some(mut pair) = Pair::new(1_000.0, 7_000.0).await else {
        return;
    };
    let key = pair.cli(&[
        "keys",
        "create",
        "--name",
        "load",
        "--budget-usd",
        "5",
        "--budget-period",
        "total",
    ]);
    let (key_id, secret) = (field(&key, "id:"), field(&key, "key:"));
    let children = [pair.start(0).await, pair.start(1).await];
    let client = reqwest::Client::new();
    // 1,000 requests, 64 at a time, alternating between the processes.
    let statuses: Vec<u16> = futures::stream::iter(0..1_000)
        .map(|i| {
            let (pair, client, secret) = (&pair, &client, &secret);
            async move { pair.ask(client, i % 2, secret).await.0 }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let served = statuses.iter().filter(|s| **s == 200).count() as i64;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_answer = 75_000_000; // 12 x $1,000/M + 9 x $7,000/M, in nano-dollars
    let shared = Shared::connect(&pair.redis).await.unwrap();
    let (spent, reserved) = shared.standing(&key_id, i64::MIN).await.unwrap();
    assert_eq!(reserved, 0, "no reservation left open");
    assert_eq!(shared.holds(&key_id, i64::MIN).await.unwrap(), 0);
    assert_eq!(
        pair.mock.request_count() as i64,
        served,
        "the mock billed the admitted only"
    );
    assert_eq!(spent, served * per_answer, "spend is what the mock billed");
    assert!(spent <= 5_000_000_000, "spent {spent} of $5");
    assert!(served >= 50, "served {served}: room for 50 at up to $0.1");
    stop(children);
    // The ledger: one row per request, its total what the mock billed.
    let ids = pair.ledger_ids(&["--key", &key_id]);
    assert_eq!(ids.len(), 1_000, "refusals are recorded too");
    let usage = pair.cli(&["usage", "--key", &key_id]);
    let text = String::from_utf8_lossy(&usage.stdout);
    let dollars = format!("{}.{:09}", spent / 1_000_000_000, spent % 1_000_000_000);
    assert!(
        text.contains(&format!("cost (USD):     {dollars}")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_under_load_loses_no_row_and_its_budget_holds_lapse() {
    let Some(mut pair) = Pair::new(1.0, 1.0).await else {
        return;
    };
    // An organisation with a budget, a team under it, a key in the team: all from the CLI.
    let org = field(
        &pair.cli(&[
            "tenants",
            "create",
            "--name",
            "acme",
            "--budget-usd",
            "1000",
            "--budget-period",
            "total",
        ]),
        "id:",
    );
    let team = field(
        &pair.cli(&[
            "tenants", "create", "--name", "search", "--parent", &org, "--rpm", "100000",
        ]),
        "id:",
    );
    let secret = field(
        &pair.cli(&["keys", "create", "--name", "load", "--tenant", &team]),
        "key:",
    );
    let listed = pair.cli(&["tenants", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("acme") && text.contains("organisation") && text.contains("team"),
        "{text}"
    );
    let mut a = pair.start(0).await;
    let b = pair.start(1).await;

    // Load from 8 clients on both replicas; each answer read in full is "delivered".
    let client = reqwest::Client::new();
    let halt = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, url, secret, halt) = (
            client.clone(),
            pair.urls[w % 2].clone(),
            secret.clone(),
            halt.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut delivered = Vec::new();
            while !halt.load(Ordering::Relaxed) {
                let sent = client
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .header("content-type", "application/json")
                    .body(CHAT)
                    .send()
                    .await;
                let Ok(resp) = sent else { break };
                let id = resp
                    .headers()
                    .get("x-request-id")
                    .map(|v| v.to_str().unwrap().to_owned());
                if resp.status() == 200 && resp.bytes().await.is_ok() {
                    delivered.extend(id);
                }
            }
            delivered
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &a.id().to_string()])
        .status();
    let killed_at = Instant::now();
    let _ = a.wait();
    tokio::time::sleep(Duration::from_millis(400)).await;
    halt.store(true, Ordering::Relaxed);
    let mut delivered = Vec::new();
    for w in workers {
        delivered.extend(w.await.unwrap());
    }
    assert!(delivered.len() > 20, "too little load: {}", delivered.len());

    // The killed replica comes back (replaying its spool). Once the holds it left behind are
    // past their deadline, the next reservation releases them: nothing stays reserved.
    let a = pair.start(0).await;
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(killed_at.elapsed())).await;
    let (status, last) = pair.ask(&client, 1, &secret).await;
    assert_eq!(status, 200, "{last}");
    delivered.push(last);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shared = Shared::connect(&pair.redis).await.unwrap();
    let scope = format!("t:{org}");
    let (spent, reserved) = shared.standing(&scope, i64::MIN).await.unwrap();
    assert_eq!(
        reserved, 0,
        "holds of the killed replica lapsed (spent {spent})"
    );
    assert_eq!(shared.holds(&scope, i64::MIN).await.unwrap(), 0);
    assert!(spent > 0);

    stop([a, b]);
    let ids = pair.ledger_ids(&["--tenant", &org]);
    let unique: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), ids.len(), "no duplicate rows");
    let missing = delivered
        .iter()
        .filter(|id| !unique.contains(id.as_str()))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} delivered answers have no row",
        delivered.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_holds_across_two_processes() {
    let Some(mut pair) = Pair::new(1.0, 1.0).await else {
        return;
    };
    let secret = field(
        &pair.cli(&["keys", "create", "--name", "burst", "--rpm", "100"]),
        "key:",
    );
    let children = [pair.start(0).await, pair.start(1).await];
    let client = reqwest::Client::new();
    let statuses: Vec<u16> = futures::stream::iter(0..500)
        .map(|i| {
            let (pair, client, secret) = (&pair, &client, &secret);
            async move { pair.ask(client, i % 2, secret).await.0 }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    stop(children);
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (100..=102).contains(&admitted),
        "admitted {admitted} of 500 at 100 rpm"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        500 - admitted
    );
}
