//! The soak run (`scripts/soak [MINUTES]`, 60 s in `scripts/test`): the real `switchyard`
//! binary with a virtual key, the store and the audit log on, in front of a mock upstream
//! that injects faults (resets mid-stream, hangs, 429s and 500s, slow drips), driven at a
//! steady rate by clients that also go away mid-stream and before the answer. It reports RSS
//! and open file descriptors over time, and holds the server to: no panic, and exactly as
//! many ledger rows and requests in the audit log as requests sent.
//!
//! Ignored in plain `cargo test`; `SOAK_SECONDS` (default 60) and `SOAK_RATE` (requests per
//! second, default 40) set its length and pace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use support::{answers, switchyard, tempdir, write_config, Reaper};
use switchyard_store::ledger::LedgerFilter;
use switchyard_store::Store;
use switchyard_testkit::openai::sse_text_pieces;
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};

const PEPPER: &str = "soak-pepper-5e1d3c7b9a2f4e6d8c0b";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// RSS (KiB) and open descriptors of a process, from /proc.
fn sample(pid: u32) -> (u64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// What one request does, chosen in turn.
#[derive(Debug, Clone, Copy)]
enum Case {
    Answer,
    Stream,
    RateLimited,
    ServerError,
    ResetMidStream,
    Hang,
    SlowDrip,
    LeaveMidStream,
    LeaveBeforeAnswer,
}

const CASES: [Case; 9] = [
    Case::Answer,
    Case::Stream,
    Case::RateLimited,
    Case::ServerError,
    Case::ResetMidStream,
    Case::Hang,
    Case::SlowDrip,
    Case::LeaveMidStream,
    Case::LeaveBeforeAnswer,
];

fn reply(case: Case) -> Reply {
    let pieces = |n: usize| sse_text_pieces("gpt-4o-mini", &vec!["token "; n], true);
    match case {
        Case::Answer | Case::LeaveBeforeAnswer => Reply::After {
            wait: Duration::from_millis(150),
            reply: Box::new(Reply::text("soak answer")),
        },
        Case::Stream | Case::LeaveMidStream => {
            Reply::sse_paced(pieces(12), Duration::from_millis(20), SseEnd::Close)
        }
        Case::RateLimited => Reply::error(429, "rate_limit_error", "slow down", Some("1")),
        Case::ServerError => Reply::error(500, "server_error", "boom", None),
        Case::ResetMidStream => {
            let mut events = pieces(6);
            events.truncate(4);
            Reply::sse_paced(events, Duration::from_millis(10), SseEnd::Reset)
        }
        Case::Hang => Reply::Hang,
        Case::SlowDrip => Reply::sse_paced(pieces(10), Duration::from_millis(150), SseEnd::Close),
    }
}

async fn drive(client: reqwest::Client, url: String, key: String, case: Case) {
    let stream = matches!(
        case,
        Case::Stream | Case::ResetMidStream | Case::SlowDrip | Case::LeaveMidStream
    );
    let body = serde_json::json!({
        "model": "chat", "stream": stream, "max_tokens": 50,
        "messages": [{"role": "user", "content": "soak"}]
    });
    let mut request = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .timeout(Duration::from_secs(20));
    if matches!(case, Case::LeaveBeforeAnswer) {
        request = request.timeout(Duration::from_millis(50));
    }
    let Ok(resp) = request.send().await else {
        return;
    };
    let mut body = resp.bytes_stream();
    if matches!(case, Case::LeaveMidStream) {
        let _ = body.next().await;
        return;
    }
    while let Some(Ok(_)) = body.next().await {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak run: scripts/soak [MINUTES]"]
async fn soak() {
    let seconds = env_number("SOAK_SECONDS", 60);
    let rate = env_number("SOAK_RATE", 40).max(1);
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_KEY_PEPPER", PEPPER),
    ];
    let created = switchyard(&["keys", "create", "--name", "soak"], &env);
    let key = String::from_utf8_lossy(&created.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("key:").map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no key: {created:?}"));

    let mock = MockOpenAi::start().await.unwrap();
    let port = free_port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndrain_timeout_s = 5\n[log]\nlevel = \"warn\"\n\
         [timeouts]\nconnect_s = 1\nfirst_byte_s = 2\nidle_s = 1\ntotal_s = 10\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-soak\"\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let log_path = home.path.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", &path])
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    let _reaper = Reaper(vec![pid]);
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );

    let client = reqwest::Client::new();
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut samples = vec![(0u64, sample(pid))];
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let case = CASES[n % CASES.len()];
        n += 1;
        mock.push(reply(case));
        sent.fetch_add(1, Ordering::Relaxed);
        tasks.push(tokio::spawn(drive(
            client.clone(),
            url.clone(),
            key.clone(),
            case,
        )));
        let at = started.elapsed().as_secs();
        if at >= samples.last().map_or(0, |s| s.0) + 5 {
            samples.push((at, sample(pid)));
        }
        tasks.retain(|t| !t.is_finished());
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    // Requests whose clients left are still being read from the upstream; let them end.
    tokio::time::sleep(Duration::from_secs(3)).await;
    samples.push((started.elapsed().as_secs(), sample(pid)));
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let exited = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    assert!(exited.unwrap().success(), "serve did not stop cleanly");

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let panics = logs.matches("panicked").count();
    let store = Store::open(&format!("sqlite://{}/switchyard.db", home_path))
        .await
        .unwrap();
    let rows = store
        .usage_rows(&LedgerFilter::default(), 10_000_000)
        .await
        .unwrap();
    let audited: HashSet<String> = store
        .audit_records((0, 0), 10_000_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "request")
        .map(|r| r.ref_id)
        .collect();
    let sent = sent.load(Ordering::Relaxed);
    println!("soak: {seconds} s at {rate} requests/s");
    println!("  second   RSS (MiB)   open fds");
    for (at, (rss, fds)) in &samples {
        println!("  {at:>6}   {:>9.1}   {fds:>8}", *rss as f64 / 1024.0);
    }
    println!(
        "  requests sent {sent}, ledger rows {}, requests in the audit log {}, panics {panics}",
        rows.len(),
        audited.len()
    );
    assert_eq!(panics, 0, "{logs}");
    assert_eq!(rows.len() as u64, sent, "one ledger row per request");
    assert_eq!(audited.len() as u64, sent, "one audit trail per request");
    // Under load the gateway holds pooled connections (clients, upstream, database): the
    // count after warming up is the level the end must not rise above.
    let warm = samples.get(1).map_or(0, |s| s.1 .1);
    let last = samples.last().map_or(0, |s| s.1 .1);
    assert!(last <= warm + 16, "descriptors leak: {warm} -> {last}");
}
