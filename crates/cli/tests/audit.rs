//! Receipts and the audit log with the real binary: `audit keygen` makes the key, `serve`
//! signs with it, every answer's receipt verifies with `receipt verify` (an altered one does
//! not), `audit verify` says the log is intact, and after an edit in the database file it
//! names the edited record and fails. A key made with the CLI is audited too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::Engine as _;
use serde_json::Value;
use support::{answers, spawn_serve, switchyard, tempdir, write_config, Reaper};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn line(out: &std::process::Output, prefix: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {prefix}: {out:?}"))
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_verify_against_a_signed_log_and_tampering_is_named() {
    let keygen = switchyard(&["audit", "keygen"], &[]);
    assert!(keygen.status.success(), "{keygen:?}");
    let seed = line(&keygen, "SWITCHYARD_AUDIT_KEY=");
    let public = line(&keygen, "public key:");
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_AUDIT_KEY", seed.as_str()),
        (
            "SWITCHYARD_KEY_PEPPER",
            "audit-test-pepper-0123456789abcdef",
        ),
    ];
    let made = switchyard(&["keys", "create", "--name", "cli-made"], &env);
    assert!(made.status.success(), "{made:?}");
    let key_id = line(&made, "id:");

    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = free_port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n\
         [[providers]]\nid = \"fr\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"FR\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"fr\", model = \"gpt-4o-mini\" }}]\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\"]\n",
        mock.base_url()
    ));
    let mut child = spawn_serve(&path, &env, false);
    let reaper = Reaper(vec![child.id()]);
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );
    let client = reqwest::Client::new();
    let mut receipts = Vec::new();
    for i in 0..5 {
        let resp = client
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(switchyard_cli_key(&made))
            .header("x-switchyard-policy", "eu-only")
            .header("content-type", "application/json")
            .body(serde_json::json!({"model": "m", "messages": [{"role": "user", "content": format!("hello {i}")}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        receipts.push(
            resp.headers()["x-switchyard-receipt"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A stream: a receipt in the header (started) and one as a comment before its last event
    // (ended), the second with the hash of the whole body but that comment.
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(switchyard_cli_key(&made))
        .header("content-type", "application/json")
        .body(serde_json::json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "stream me"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = resp.headers()["x-switchyard-receipt"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = resp.bytes().await.unwrap();
    let text_body = String::from_utf8(body.to_vec()).unwrap();
    let marker = ": x-switchyard-receipt=";
    let cut = text_body.rfind(marker).expect("closing receipt");
    let end = cut + text_body[cut..].find("\n\n").unwrap() + 2;
    let ended = text_body[cut + marker.len()..end].trim().to_owned();
    // Just before the dialect's last event, which stays last.
    assert_eq!(&text_body[end..], "data: [DONE]\n\n", "{text_body}");
    let without = format!("{}{}", &text_body[..cut], &text_body[end..]);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let closing: Value = serde_json::from_slice(&engine.decode(&ended).unwrap()).unwrap();
    assert_eq!(closing["stream"], "ended");
    use sha2::Digest as _;
    let sent = sha2::Sha256::digest(without.as_bytes());
    assert_eq!(
        closing["answer_sha256"].as_str().unwrap(),
        sent.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    receipts.push(started);
    receipts.push(ended);
    // A graceful stop writes every queued audit record.
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success());
    drop(reaper);

    for receipt in &receipts {
        let out = switchyard(
            &["receipt", "verify", receipt, "--public-key", &public],
            &env,
        );
        assert!(out.status.success(), "{}", text(&out));
        let shown = text(&out);
        assert!(
            shown.contains("receipt valid") && shown.contains("covered by the lane's signed head"),
            "{shown}"
        );
        assert!(shown.contains("jurisdiction: FR"), "{shown}");
    }
    // Every receipt names its place in the log: the server's lane, positions in order.
    let places: Vec<(i64, i64)> = receipts
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&engine.decode(r).unwrap()).unwrap();
            (
                v["chain"]["lane"].as_i64().unwrap(),
                v["chain"]["position"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        places
            .windows(2)
            .all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1),
        "{places:?}"
    );
    // A receipt whose jurisdiction was changed is not the logged one.
    let decoded = String::from_utf8(engine.decode(&receipts[0]).unwrap()).unwrap();
    let forged = engine.encode(decoded.replace("\"FR\"", "\"DE\""));
    let out = switchyard(
        &["receipt", "verify", &forged, "--public-key", &public],
        &env,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("altered"), "{}", text(&out));

    let out = switchyard(&["audit", "verify", "--public-key", &public], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("audit log intact"), "{}", text(&out));

    // The log holds the CLI's key creation and the server's start, metadata only.
    let db = home.path.join("switchyard.db");
    let store = switchyard_store::Store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let records = store.audit_records((0, 0), 100).await.unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    // Lane 1: the CLI's change (opening, then the key); lane 2: the server.
    assert_eq!(&kinds[..3], &["lane", "admin", "lane"], "{kinds:?}");
    assert_eq!(
        (records[1].lane, records[1].ref_id.as_str()),
        (1, key_id.as_str())
    );
    assert!(kinds.contains(&"config"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "request").count(), 7);
    assert!(records.iter().all(|r| !r.record.contains("hello")));
    let edited = records
        .iter()
        .filter(|r| r.kind == "request")
        .nth(3)
        .unwrap();
    let request: Value = serde_json::from_str(&edited.record).unwrap();
    // Someone edits a record in the database file.
    sqlx_edit(&store, edited.lane, edited.seq).await;
    store.close().await;
    let out = switchyard(&["audit", "verify", "--public-key", &public], &env);
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains(&format!(
            "BROKEN at lane {} record {}",
            edited.lane, edited.seq
        )),
        "{shown}"
    );
    // That request's receipt no longer verifies either.
    let receipt = receipts
        .iter()
        .find(|r| {
            String::from_utf8(engine.decode(r.as_str()).unwrap())
                .unwrap()
                .contains(request["request_id"].as_str().unwrap())
        })
        .unwrap();
    let out = switchyard(
        &["receipt", "verify", receipt, "--public-key", &public],
        &env,
    );
    assert!(!out.status.success(), "{}", text(&out));
}

fn switchyard_cli_key(made: &std::process::Output) -> String {
    line(made, "key:")
}

async fn sqlx_edit(store: &switchyard_store::Store, lane: i64, seq: i64) {
    sqlx::query("UPDATE audit_chain SET record = replace(record, '\"status\":200', '\"status\":500') WHERE lane = $1 AND seq = $2")
        .bind(lane)
        .bind(seq)
        .execute(store.pool())
        .await
        .unwrap();
}

/// What one client got back: each receipt it received, with the answer read in full.
async fn receipts_of(resp: reqwest::Response, stream: bool) -> Option<Vec<String>> {
    if resp.status() != 200 {
        return None;
    }
    let header = resp
        .headers()
        .get("x-switchyard-receipt")?
        .to_str()
        .ok()?
        .to_owned();
    let body = resp.bytes().await.ok()?;
    if !stream {
        return Some(vec![header]);
    }
    let text = String::from_utf8(body.to_vec()).ok()?;
    if !text.ends_with("data: [DONE]\n\n") {
        return None;
    }
    let marker = ": x-switchyard-receipt=";
    let at = text.rfind(marker)? + marker.len();
    let ended = text[at..].lines().next()?.trim().to_owned();
    Some(vec![header, ended])
}

/// `kill -9` of a server under load (answers and streams from 8 clients, so that records
/// are still on their way to the database when it dies): after a restart, every receipt a
/// client received is in the log at the place it names, the log verifies, and each lane's
/// signed head covers its records.
#[tokio::test(flavor = "multi_thread")]
async fn every_receipt_handed_out_verifies_after_kill_9_and_restart() {
    let keygen = switchyard(&["audit", "keygen"], &[]);
    let seed = line(&keygen, "SWITCHYARD_AUDIT_KEY=");
    let public = line(&keygen, "public key:");
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_AUDIT_KEY", seed.as_str()),
        ("SWITCHYARD_KEY_PEPPER", "kill-test-pepper-0123456789abcdef"),
    ];
    let made = switchyard(&["keys", "create", "--name", "load"], &env);
    let secret = switchyard_cli_key(&made);
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = free_port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let url = format!("http://127.0.0.1:{port}");
    let mut child = spawn_serve(&path, &env, false);
    let reaper = Reaper(vec![child.id()]);
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );

    let client = reqwest::Client::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (client, url, secret, stop) =
            (client.clone(), url.clone(), secret.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let stream = (worker + n).is_multiple_of(3);
                n += 1;
                let body = serde_json::json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
                let Ok(resp) = client
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                else {
                    break;
                };
                got.extend(receipts_of(resp, stream).await.into_iter().flatten());
            }
            got
        }));
    }
    let receipts = support::kill_9_under_load(
        &mut child,
        std::time::Duration::from_millis(800),
        &stop,
        workers,
    )
    .await;
    drop(reaper);
    assert!(receipts.len() > 20, "too little load: {}", receipts.len());

    // The next start appends what the killed process spooled to its lane.
    let mut child = spawn_serve(&path, &env, false);
    let reaper = Reaper(vec![child.id()]);
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not restart"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    drop(reaper);

    let out = switchyard(&["audit", "verify", "--public-key", &public], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("audit log intact"), "{}", text(&out));
    let db = home.path.join("switchyard.db");
    let store = switchyard_store::Store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let heads: std::collections::HashMap<i64, i64> = store
        .audit_heads()
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.lane, h.seq))
        .collect();
    let mut missing = Vec::new();
    for receipt in &receipts {
        let text = String::from_utf8(engine.decode(receipt).unwrap()).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let (lane, position) = (
            parsed["chain"]["lane"].as_i64().unwrap(),
            parsed["chain"]["position"].as_i64().unwrap(),
        );
        let found = store.audit_record(lane, position).await.unwrap();
        if found.as_ref().map(|r| r.record.as_str()) != Some(text.as_str()) {
            missing.push((lane, position));
        }
        assert!(
            heads.get(&lane).is_some_and(|&h| h >= position),
            "lane {lane} head"
        );
    }
    store.close().await;
    assert!(
        missing.is_empty(),
        "{} of {} receipts are not in the log: {missing:?}",
        missing.len(),
        receipts.len()
    );
    // The command a client runs agrees, for the last receipts handed out.
    for receipt in receipts.iter().rev().take(3) {
        let out = switchyard(
            &["receipt", "verify", receipt, "--public-key", &public],
            &env,
        );
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("covered by the lane's signed head"),
            "{}",
            text(&out)
        );
    }
}
