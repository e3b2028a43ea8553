//! Two gateway replicas sharing one store and one Redis (`SWITCHYARD_TEST_REDIS_URL`, and
//! `SWITCHYARD_TEST_POSTGRES_URL` when set, else one SQLite file): budgets and rate limits
//! hold across both exactly, as for one. `scripts/test` starts both services; without Redis
//! these tests say so and pass vacuously.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_governance::governance::SharedSettings;
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::rate::RateScope;
use switchyard_governance::shared::Shared;
use switchyard_governance::{Governance, Pepper};
use switchyard_server::AppState;
use switchyard_store::keys::KeyRow;
use switchyard_store::ledger::LedgerFilter;
use switchyard_store::tenants::TenantRow;
use switchyard_store::Store;
use switchyard_testkit::MockOpenAi;
use tokio::sync::oneshot;

const PEPPER: &str = "replica-test-pepper-0123456789abcdef";

struct Replicas {
    urls: [String; 2],
    store: Store,
    governance: [Arc<Governance>; 2],
    shared: Shared,
    _mock: MockOpenAi,
    _stops: Vec<oneshot::Sender<()>>,
    _dir: Option<std::path::PathBuf>,
}

async fn store() -> (Store, Option<std::path::PathBuf>) {
    if let Ok(url) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") {
        let admin = Store::open(&url).await.unwrap();
        let name = format!("sy_rep_{:016x}", fastrand::u64(..));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await
            .unwrap();
        admin.close().await;
        let base = url
            .rsplit_once('/')
            .map_or(url.as_str(), |(b, _)| b)
            .to_owned();
        return (Store::open(&format!("{base}/{name}")).await.unwrap(), None);
    }
    let dir = std::env::temp_dir().join(format!("sy-rep-{:016x}", fastrand::u64(..)));
    let store = Store::open_file(&dir.join("switchyard.db")).await.unwrap();
    (store, Some(dir))
}

/// Two replicas, or `None` without a test Redis. The key may be put under the team
/// `team_shared` of the organisation `org_shared`, whose limits `org` sets.
async fn replicas(
    edit: impl FnOnce(&mut KeyRow),
    org: impl FnOnce(&mut TenantRow),
) -> Option<(Replicas, KeySecret)> {
    let Ok(redis) = std::env::var("SWITCHYARD_TEST_REDIS_URL") else {
        eprintln!("SWITCHYARD_TEST_REDIS_URL not set: shared-limit test skipped");
        return None;
    };
    let (store, dir) = store().await;
    let pepper = Pepper::new(PEPPER).unwrap();
    let secret = KeySecret::generate().unwrap();
    let mut row = KeyRow {
        id: "key_shared".into(),
        name: "shared".into(),
        prefix: secret.display_prefix().into(),
        hash: keys::to_hex(&pepper.hash(secret.expose())),
        created_at: 1,
        updated_at: 1,
        ..KeyRow::default()
    };
    let mut organisation = TenantRow {
        id: "org_shared".into(),
        name: "org".into(),
        created_at: 1,
        updated_at: 1,
        ..TenantRow::default()
    };
    org(&mut organisation);
    store.insert_tenant(&organisation).await.unwrap();
    let team = TenantRow {
        id: "team_shared".into(),
        name: "team".into(),
        parent_id: Some("org_shared".into()),
        created_at: 1,
        updated_at: 1,
        rpm: Some(100_000),
        ..TenantRow::default()
    };
    store.insert_tenant(&team).await.unwrap();
    edit(&mut row);
    store.insert_key(&row).await.unwrap();
    let mock = MockOpenAi::start().await.unwrap();
    // Priced so that one answer (12 + 9 tokens) costs $0.102 and may cost up to $0.134.
    let text = format!(
        "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"house-model\", price = {{ input = 1000.0, output = 10000.0 }} }}]\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let prefix = format!("sytest{:08x}:", fastrand::u32(..));
    let shared = Shared::connect(&redis).await.unwrap().with_prefix(&prefix);
    let mut urls = Vec::new();
    let mut governance = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let g = Governance::start(
            store.clone(),
            Some(Pepper::new(PEPPER).unwrap()),
            None,
            Some(SharedSettings {
                shared: shared.clone(),
                replicas: 2,
                fallback_allowance: 0,
                hold_ms: 900_000,
            }),
            None,
        )
        .await
        .unwrap();
        let state = AppState::build_governed(&config, Some(g.clone())).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}", listener.local_addr().unwrap()));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(switchyard_server::serve(
            state,
            listener,
            Box::pin(async move {
                let _ = rx.await;
            }),
            Duration::from_secs(5),
        ));
        governance.push(g);
        stops.push(tx);
    }
    let [a, b]: [String; 2] = urls.try_into().unwrap();
    let [ga, gb]: [Arc<Governance>; 2] = governance.try_into().ok().unwrap();
    Some((
        Replicas {
            urls: [a, b],
            store,
            governance: [ga, gb],
            shared,
            _mock: mock,
            _stops: stops,
            _dir: dir,
        },
        secret,
    ))
}

/// `n` requests, alternating between the replicas, 64 at a time: the statuses.
async fn burst(r: &Replicas, secret: &KeySecret, n: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    futures::stream::iter(0..n)
        .map(|i| {
            let request = client
                .post(format!("{}/v1/chat/completions", r.urls[i % 2]))
                .bearer_auth(secret.expose())
                .json(&json!({"model": "chat", "max_tokens": 10,
                              "messages": [{"role": "user", "content": "hi"}]}));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_across_two_replicas() {
    let Some((r, secret)) = replicas(
        |k| {
            k.budget_nano_usd = Some(5_000_000_000);
            k.budget_period = Some("total".into());
        },
        |_| {},
    )
    .await
    else {
        return;
    };
    budget_holds(&r, &secret, "key_shared").await;
}

/// The same through an organisation's budget, for a key in one of its teams (three scopes
/// per request: key, team, organisation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_budget_holds_across_two_replicas() {
    let Some((r, secret)) = replicas(
        |k| k.tenant_id = Some("team_shared".into()),
        |org| {
            org.budget_nano_usd = Some(5_000_000_000);
            org.budget_period = Some("total".into());
        },
    )
    .await
    else {
        return;
    };
    budget_holds(&r, &secret, "t:org_shared").await;
}

/// 1,000 requests against a $5 budget kept in the counter `scope`.
async fn budget_holds(r: &Replicas, secret: &KeySecret, scope: &str) {
    let statuses = burst(r, secret, 1_000).await;
    let served = statuses.iter().filter(|s| **s == 200).count() as i64;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // Settlements run just after each answer: give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (spent, reserved) = r.shared.standing(scope, i64::MIN).await.unwrap();
    assert_eq!(
        r.shared.holds(scope, i64::MIN).await.unwrap(),
        0,
        "no hold left"
    );
    assert_eq!(reserved, 0, "no reservation left open");
    let per_answer = 102_000_000; // 12 x $1,000/M + 9 x $10,000/M, in nano-dollars
    assert_eq!(spent, served * per_answer);
    assert!(spent <= 5_000_000_000 + per_answer, "spent {spent}");
    assert!(
        served >= 37,
        "served {served}: the budget allows 37 at up to $0.134 each"
    );
    for g in &r.governance {
        g.ledger.shutdown(Duration::from_secs(10)).await;
    }
    let ledger = r
        .store
        .usage_totals(&LedgerFilter::default())
        .await
        .unwrap();
    assert_eq!(
        ledger.cost_nano_usd, spent,
        "the ledger holds what the mock billed"
    );
    assert_eq!(ledger.requests, 1_000, "refusals are recorded too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_holds_across_two_replicas() {
    let Some((r, secret)) = replicas(|k| k.rpm = Some(100), |_| {}).await else {
        return;
    };
    let statuses = burst(&r, &secret, 500).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_replica_enforces_its_share_and_budgets_close() {
    // A Redis of this test's own, to stop half-way.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(mut redis) = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("redis-server not installed: fallback test skipped");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}/0");
    let mut shared = None;
    for _ in 0..50 {
        if let Ok(s) = Shared::connect(&url).await {
            shared = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shared = shared.expect("test redis did not start");
    let (store, _dir) = store().await;
    let pepper = Pepper::new(PEPPER).unwrap();
    let mut secrets = Vec::new();
    for (id, rpm, budget) in [
        ("key_rpm", Some(10), None),
        ("key_budget", None, Some(5_000_000_000)),
    ] {
        let secret = KeySecret::generate().unwrap();
        store
            .insert_key(&KeyRow {
                id: id.into(),
                name: id.into(),
                prefix: secret.display_prefix().into(),
                hash: keys::to_hex(&pepper.hash(secret.expose())),
                created_at: 1,
                updated_at: 1,
                rpm,
                budget_nano_usd: budget,
                budget_period: budget.map(|_| "total".to_owned()),
                ..KeyRow::default()
            })
            .await
            .unwrap();
        secrets.push(secret);
    }
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"house-model\", price = {{ input = 1000.0, output = 10000.0 }} }}]\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let governance = Governance::start(
        store,
        Some(Pepper::new(PEPPER).unwrap()),
        None,
        Some(SharedSettings {
            shared,
            replicas: 2,
            fallback_allowance: 0,
            hold_ms: 900_000,
        }),
        None,
    )
    .await
    .unwrap();
    let state = AppState::build_governed(&config, Some(governance.clone())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchyard_server::serve(
        state,
        listener,
        Box::pin(std::future::pending()),
        Duration::from_secs(1),
    ));
    let client = reqwest::Client::new();
    let ask = |secret: &KeySecret| {
        client
            .post(format!("{gateway}/v1/chat/completions"))
            .bearer_auth(secret.expose())
            .json(&json!({"model": "chat", "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    // With Redis: the budget admits.
    assert_eq!(ask(&secrets[1]).await.unwrap().status(), 200);
    let _ = redis.kill();
    let _ = redis.wait();
    // Without it: 10 rpm shared by 2 replicas is 5 here; the budget closes (allowance 0).
    let mut admitted = 0;
    for _ in 0..8 {
        if ask(&secrets[0]).await.unwrap().status() == 200 {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    let resp = ask(&secrets[1]).await.unwrap();
    assert_eq!(resp.status(), 429);
    let metrics = reqwest::get(format!("{gateway}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fallbacks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_governance_fallback_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        fallbacks >= 9,
        "{fallbacks}: eight rate checks and one reservation"
    );
}

/// A replica may start while Redis is down: it enforces its share until Redis answers, then
/// shares again without a restart.
#[tokio::test]
async fn a_replica_starts_without_redis_and_shares_once_it_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let started = std::time::Instant::now();
    let shared = Shared::start(&url).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "start does not wait for Redis"
    );
    let one = [RateScope {
        id: "k",
        rpm: Some(5),
        tpm: None,
    }];
    assert!(
        shared.admit_all(&one, 0, "r0").await.is_err(),
        "no Redis yet"
    );
    assert!(
        Shared::start("http://not-redis").await.is_err(),
        "a bad URL is an error"
    );
    let Ok(mut redis) = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("redis-server not installed: reconnect test skipped");
        return;
    };
    let mut connected = false;
    for _ in 0..100 {
        if shared.admit_all(&one, 0, "r1").await.is_ok() {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = redis.kill();
    let _ = redis.wait();
    assert!(connected, "the replica never reached Redis once it was up");
}
