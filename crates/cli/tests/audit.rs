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
            shown.contains("receipt valid") && shown.contains("covered by the signed head"),
            "{shown}"
        );
        assert!(shown.contains("jurisdiction: FR"), "{shown}");
    }
    // A receipt whose jurisdiction was changed is not the logged one.
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    let records = store.audit_records(1, 100).await.unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds[0], "admin", "{kinds:?}");
    assert_eq!(records[0].ref_id, key_id);
    assert!(kinds.contains(&"config"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "request").count(), 5);
    assert!(records.iter().all(|r| !r.record.contains("hello")));
    let request: Value = serde_json::from_str(&records[3].record).unwrap();
    // Someone edits a record in the database file.
    sqlx_edit(&store, records[3].seq).await;
    store.close().await;
    let out = switchyard(&["audit", "verify", "--public-key", &public], &env);
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains(&format!("BROKEN at record {}", records[3].seq)),
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

async fn sqlx_edit(store: &switchyard_store::Store, seq: i64) {
    sqlx::query("UPDATE audit_log SET record = replace(record, '\"status\":200', '\"status\":500') WHERE seq = $1")
        .bind(seq)
        .execute(store.pool())
        .await
        .unwrap();
}
