//! The secrets canary, end to end: a real `switchyard serve` (debug logs) with a pepper, an
//! admin token, a viewer token, an upstream key, virtual keys and a tenant admin token, all
//! distinctive strings, driven through every dialect's key header, wrong and revoked keys,
//! secrets presented in the wrong places, the admin API and `/metrics`. None of them appears
//! in the logs, any answer (body or header) but the one that creates it, the metrics, the
//! database files or the ledger spool.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{answers, spawn_serve, switchyard, tempdir, write_config, Reaper};

const PEPPER: &str = "CANARYpepper-1f2e3d4c5b6a7988-pepper";
const ADMIN: &str = "CANARYadmin-9a8b7c6d5e4f-token";
const VIEWER: &str = "CANARYviewer-0f1e2d3c4b5a-token";
const UPSTREAM: &str = "sk-CANARYupstream-77aa88bb99cc";
/// An Ed25519 seed (base64) signing the audit log.
const AUDIT_KEY: &str = "Q0FOQVJZYXVkaXQta2V5LXNlZWQtMzItYnl0ZXMhISE=";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Everything an answer shows: status, headers and body.
async fn shown(resp: reqwest::Response) -> String {
    let head = format!("{} {:?}", resp.status(), resp.headers());
    format!("{head}\n{}", resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_into_logs_answers_metrics_or_the_store() {
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_KEY_PEPPER", PEPPER),
        ("SWITCHYARD_ADMIN_TOKEN", ADMIN),
        ("SWITCHYARD_VIEWER_TOKEN", VIEWER),
        ("CANARY_UPSTREAM_KEY", UPSTREAM),
        ("SWITCHYARD_AUDIT_KEY", AUDIT_KEY),
    ];
    let field = |out: &std::process::Output, name: &str| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name}: {out:?}"))
    };
    let org = field(
        &switchyard(
            &["tenants", "create", "--name", "acme", "--rpm", "1000"],
            &env,
        ),
        "id:",
    );
    let key = field(
        &switchyard(
            &[
                "keys",
                "create",
                "--name",
                "app",
                "--tenant",
                &org,
                "--budget-usd",
                "10",
            ],
            &env,
        ),
        "key:",
    );
    let revoked = switchyard(&["keys", "create", "--name", "old"], &env);
    let (revoked_id, revoked_key) = (field(&revoked, "id:"), field(&revoked, "key:"));
    assert!(switchyard(&["keys", "revoke", &revoked_id], &env)
        .status
        .success());
    let tenant_token = field(&switchyard(&["tenants", "token", &org], &env), "token:");

    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n[log]\nformat = \"json\"\nlevel = \"debug\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"${{CANARY_UPSTREAM_KEY}}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let child = spawn_serve(&path, &env, true);
    let _reaper = Reaper(vec![child.id()]);
    let url = format!("http://127.0.0.1:{port}");
    let admin = format!("http://127.0.0.1:{admin_port}");
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );
    assert!(
        answers(&format!("{admin}/admin/openapi.json")).await,
        "admin API did not start"
    );

    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    let chat = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    let gemini = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    let bedrock = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
    let mut mangled = key.clone();
    mangled.pop();
    mangled.push(if key.ends_with('A') { 'B' } else { 'A' });
    // Every dialect's key header, with the right key and with every wrong one.
    for presented in [
        key.as_str(),
        &revoked_key,
        &mangled,
        &tenant_token,
        PEPPER,
        ADMIN,
        UPSTREAM,
    ] {
        let sigv4 = format!(
            "AWS4-HMAC-SHA256 Credential={presented}/20261128/eu-central-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
        );
        let requests = [
            client
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(presented)
                .body(chat),
            client
                .post(format!("{url}/v1/messages"))
                .header("x-api-key", presented)
                .header("anthropic-version", "2023-06-01")
                .body(chat),
            client
                .post(format!("{url}/v1beta/models/m:generateContent"))
                .header("x-goog-api-key", presented)
                .body(gemini),
            client
                .post(format!("{url}/model/m/converse"))
                .header("authorization", sigv4)
                .body(bedrock),
        ];
        for request in requests {
            let resp = request
                .header("content-type", "application/json")
                .send()
                .await
                .unwrap();
            seen.push(shown(resp).await);
        }
    }
    assert!(
        seen[0].starts_with("200"),
        "the live key works: {}",
        seen[0]
    );
    // The admin API, with each token and with secrets that are not admin tokens.
    for token in [
        ADMIN,
        VIEWER,
        tenant_token.as_str(),
        key.as_str(),
        PEPPER,
        UPSTREAM,
    ] {
        for path in [
            "/admin/keys",
            "/admin/tenants",
            "/admin/usage?format=csv",
            &format!("/admin/tenants/{org}"),
        ] {
            let resp = client
                .get(format!("{admin}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            seen.push(shown(resp).await);
        }
    }
    // A key made through the admin API: its secret is shown once, in that answer only.
    let made: serde_json::Value = client
        .post(format!("{admin}/admin/keys"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(serde_json::json!({"name": "made", "tenant_id": org}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let made_key = made["key"].as_str().unwrap().to_owned();
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(&made_key)
        .header("content-type", "application/json")
        .body(chat)
        .send()
        .await
        .unwrap();
    seen.push(shown(resp).await);
    for path in ["/metrics", "/v1/route/health", "/v1/models"] {
        let resp = client
            .get(format!("{url}{path}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        seen.push(shown(resp).await);
    }

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        logs.contains("\"level\":\"DEBUG\"") || logs.contains("DEBUG"),
        "debug logs were on"
    );

    // The store: the database and its WAL, and anything left in the spool, as bytes.
    let mut files = String::new();
    let mut stack = vec![home.path.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    assert!(files.len() > 10_000, "the database was read");
    let canaries = [
        PEPPER.to_owned(),
        ADMIN.to_owned(),
        VIEWER.to_owned(),
        UPSTREAM.to_owned(),
        AUDIT_KEY.to_owned(),
        key[12..].to_owned(),
        revoked_key[12..].to_owned(),
        mangled[12..].to_owned(),
        tenant_token[12..].to_owned(),
        made_key[12..].to_owned(),
    ];
    for canary in &canaries {
        assert!(!logs.contains(canary.as_str()), "the logs hold {canary}");
        assert!(!files.contains(canary.as_str()), "the store holds {canary}");
        for answer in &seen {
            assert!(
                !answer.contains(canary.as_str()),
                "an answer holds {canary}: {answer}"
            );
        }
    }
    // The upstream got its own key, and never a gateway secret.
    for request in mock.requests() {
        let text = format!("{request:?}");
        for canary in &canaries[..3] {
            assert!(!text.contains(canary.as_str()), "the upstream saw {canary}");
        }
    }
}
