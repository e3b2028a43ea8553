//! Two `switchyard serve` processes sharing PostgreSQL and Redis, as a production pair runs:
//! tenants and a key made with the CLI, load on both, `kill -9` of one. No answer delivered in
//! full loses its ledger row or gets two, and the budget holds the killed process left in
//! Redis lapse at their deadline. Needs `SWITCHYARD_TEST_POSTGRES_URL` and
//! `SWITCHYARD_TEST_REDIS_URL` (scripts/test starts both); skipped without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{answers, spawn_serve, switchyard, tempdir, write_config, Reaper};
use switchyard_governance::shared::Shared;

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
fn field(out: &std::process::Output, name: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_under_load_loses_no_row_and_its_budget_holds_lapse() {
    let (Ok(pg), Ok(redis)) = (
        std::env::var("SWITCHYARD_TEST_POSTGRES_URL"),
        std::env::var("SWITCHYARD_TEST_REDIS_URL"),
    ) else {
        eprintln!("PostgreSQL or Redis for tests not set: two-process crash test skipped");
        return;
    };
    const PEPPER: &str = "replica-crash-pepper-0a1b2c3d4e5f6a7b8c9d";
    let database = fresh_database(&pg).await;
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let ports = [free_port(), free_port()];
    let homes = [tempdir::Dir::new(), tempdir::Dir::new()];
    let configs: Vec<_> = ports
        .iter()
        .map(|port| {
            write_config(&format!(
                "listen = \"127.0.0.1:{port}\"\n\
                 [store]\nurl = \"{database}\"\nredis_url = \"{redis}\"\nreplicas = 2\nreservation_timeout_s = 10\n\
                 [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
                 [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"house\", price = {{ input = 1.0, output = 1.0 }} }}]\n",
                mock.base_url()
            ))
        })
        .collect();
    let env = |i: usize| {
        [
            ("SWITCHYARD_HOME", homes[i].path.display().to_string()),
            ("SWITCHYARD_KEY_PEPPER", PEPPER.to_owned()),
        ]
    };
    let env_refs = |i: usize| env(i).map(|(k, v)| (k, v));
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", configs[0].1.as_str()]);
        let vars = env_refs(0);
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        switchyard(&all, &pairs)
    };

    // An organisation with a budget, a team under it, a key in the team: all from the CLI.
    let org = cli(&[
        "tenants",
        "create",
        "--name",
        "acme",
        "--budget-usd",
        "1000",
        "--budget-period",
        "total",
    ]);
    assert!(org.status.success(), "{org:?}");
    let org = field(&org, "id:");
    let team = cli(&[
        "tenants", "create", "--name", "search", "--parent", &org, "--rpm", "100000",
    ]);
    assert!(team.status.success(), "{team:?}");
    let team = field(&team, "id:");
    let key = cli(&["keys", "create", "--name", "load", "--tenant", &team]);
    assert!(key.status.success(), "{key:?}");
    let secret = field(&key, "key:");
    let listed = cli(&["tenants", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("acme") && text.contains("organisation") && text.contains("team"),
        "{text}"
    );

    let start = |i: usize| {
        let vars = env_refs(i);
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        spawn_serve(&configs[i].1, &pairs, false)
    };
    let urls = ports.map(|p| format!("http://127.0.0.1:{p}"));
    let mut reaper = Reaper::default();
    let mut a = start(0);
    let b = start(1);
    reaper.0.extend([a.id(), b.id()]);
    for url in &urls {
        assert!(
            answers(&format!("{url}/healthz")).await,
            "a replica did not start"
        );
    }

    // Load from 8 clients on both replicas; each answer read in full is "delivered".
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, url, secret, stop) = (
            client.clone(),
            urls[w % 2].clone(),
            secret.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut delivered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = client
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .header("content-type", "application/json")
                    .body(r#"{"model":"m","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}"#)
                    .send()
                    .await;
                let Ok(resp) = sent else { break };
                let id = resp.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
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
    stop.store(true, Ordering::Relaxed);
    let mut delivered = Vec::new();
    for w in workers {
        delivered.extend(w.await.unwrap());
    }
    assert!(delivered.len() > 20, "too little load: {}", delivered.len());

    // The killed replica comes back (replaying its spool). Once the holds it left behind are
    // past their deadline, the next reservation releases them: nothing stays reserved.
    let a = start(0);
    assert!(
        answers(&format!("{}/healthz", urls[0])).await,
        "the replica did not restart"
    );
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(killed_at.elapsed())).await;
    let resp = client
        .post(format!("{}/v1/chat/completions", urls[1]))
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .body(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    let last_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        resp.status(),
        200,
        "{last_id}: {}",
        resp.text().await.unwrap()
    );
    let last = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    resp.bytes().await.unwrap();
    delivered.push(last);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shared = Shared::connect(&redis).await.unwrap();
    let scope = format!("t:{org}");
    let (spent, reserved) = shared.standing(&scope, i64::MIN).await.unwrap();
    assert_eq!(
        reserved, 0,
        "holds of the killed replica lapsed (spent {spent})"
    );
    assert_eq!(shared.holds(&scope, i64::MIN).await.unwrap(), 0);
    assert!(spent > 0);

    for child in [a, b] {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait_with_output();
    }
    let csv = cli(&["usage", "--csv", "--tenant", &org]);
    let text = String::from_utf8_lossy(&csv.stdout);
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
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
