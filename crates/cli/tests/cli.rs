//! The `switchyard` binary as a user runs it: exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Output;

use support::{answers, example, spawn_serve, switchyard, tempdir, write_config};

#[test]
fn config_check_accepts_the_example_with_its_secret_set() {
    let out = switchyard(
        &["config", "check", &example()],
        &[("MOCK_API_KEY", "sk-x")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 provider(s), 1 model(s)"));
}

#[test]
fn config_errors_exit_2_and_name_the_key_but_not_secrets() {
    let out = switchyard(&["config", "check", &example()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("providers[0].api_key") && err.contains("MOCK_API_KEY"),
        "{err}"
    );

    let (_dir, path) = write_config("[[providers]]\nid = \"a\"\ntype = \"openai\"\napi_key = \"sk-very-secret\"\nbase_urll = \"x\"\n");
    let out = switchyard(&["config", "check", &path], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("providers[0].base_urll"), "{err}");
    assert!(!err.contains("sk-very-secret"), "{err}");

    let out = switchyard(&["config", "check", "/nonexistent/switchyard.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_refuses_an_open_non_loopback_listener() {
    let out = switchyard(&["serve", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("api_keys"));
}

#[test]
fn unreachable_server_exits_3() {
    let out = switchyard(
        &["chat", "--url", "http://127.0.0.1:9", "--model", "m", "hi"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    let out = switchyard(&["models", "--url", "http://127.0.0.1:9"], &[]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn bad_usage_exits_2_and_help_works() {
    assert_eq!(switchyard(&["frobnicate"], &[]).status.code(), Some(2));
    for cmd in [
        &["--help"][..],
        &["serve", "--help"],
        &["config", "check", "--help"],
        &["chat", "--help"],
        &["models", "--help"],
    ] {
        assert!(switchyard(cmd, &[]).status.success(), "{cmd:?}");
    }
}

/// A real `switchyard serve` process: its log lines name the request, model, provider,
/// status and tokens, and never contain the prompt, the answer or any key; SIGTERM drains and
/// exits 0.
#[tokio::test]
async fn serve_logs_requests_without_prompts_or_secrets_and_exits_cleanly_on_sigterm() {
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\napi_keys = [\"${{CLIENT_KEY}}\"]\n[log]\nformat = \"json\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"${{UP_KEY}}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let child = spawn_serve(
        &path,
        &[
            ("CLIENT_KEY", "sk-client-key-7777"),
            ("UP_KEY", "sk-upstream-key-8888"),
        ],
        true,
    );
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-client-key-7777")
        .header("content-type", "application/json")
        .body(r#"{"model":"m","messages":[{"role":"user","content":"MY-PRIVATE-PROMPT-4242"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let _ = resp.text().await.unwrap();
    let bad = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-wrong-guess-5555")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stdout);
    let line = logs
        .lines()
        .find(|l| l.contains(&request_id))
        .unwrap_or_else(|| panic!("no log line for {request_id}:\n{logs}"));
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["model"], "m");
    assert_eq!(record["provider"], "up");
    assert_eq!(record["status"], 200);
    assert_eq!(record["input_tokens"], 12);
    assert!(logs.contains("\"status\":401"));
    for secret in [
        "MY-PRIVATE-PROMPT-4242",
        "Switchyard mock upstream",
        "sk-client-key-7777",
        "sk-upstream-key-8888",
        "sk-wrong-guess-5555",
    ] {
        assert!(!logs.contains(secret), "log contains {secret}:\n{logs}");
    }
    assert!(logs.contains("all connections closed"), "{logs}");
}

#[test]
fn offline_serve_without_models_fails_clearly() {
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let out = switchyard(
        &["serve", "--offline", "--listen", "127.0.0.1:0"],
        &[("SWITCHYARD_HOME", &home_path)],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--offline") && err.contains("switchyard models pull"),
        "{err}"
    );
}

#[test]
fn models_list_and_pull_report_the_store() {
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [("SWITCHYARD_HOME", home_path.as_str())];
    let out = switchyard(&["models", "list"], &env);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&home_path), "{text}");
    for name in [
        "qwen2.5-coder-0.5b-instruct (default)",
        "all-minilm-l6-v2 (default-embedding)",
        "gemma-3-270m",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {text}"));
        assert!(line.contains("missing"), "{line}");
    }
    let out = switchyard(&["models", "pull", "no-such-model"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model `no-such-model`"));
}

/// A running `switchyard serve` reloads its config on SIGHUP and when the file changes,
/// through the same validation as at start; a broken file is rejected and the running
/// config keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn serve_reloads_its_config_and_keeps_it_when_the_new_one_is_invalid() {
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = |models: &[&str]| {
        let mut text = format!(
            "listen = \"127.0.0.1:{port}\"\n[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n",
            mock.base_url()
        );
        for m in models {
            text.push_str(&format!(
                "[[models]]\nname = \"{m}\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n"
            ));
        }
        text
    };
    let (_dir, path) = write_config(&config(&["first"]));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", &path])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let models = || async {
        let bytes = client
            .get(format!("{url}/v1/models"))
            .send()
            .await
            .ok()?
            .bytes()
            .await
            .ok()?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        Some(
            body["data"]
                .as_array()?
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
        )
    };
    let wait_for = |want: Vec<&'static str>| async move {
        for _ in 0..120 {
            if models().await == Some(want.iter().map(|s| (*s).to_owned()).collect()) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    };
    assert!(wait_for(vec!["first"]).await, "server did not start");
    let hup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
    };

    std::fs::write(&path, config(&["first", "second"])).unwrap();
    assert!(hup().success());
    assert!(wait_for(vec!["first", "second"]).await, "SIGHUP reload");

    // A broken file: rejected, the running config stays.
    std::fs::write(&path, "listen = 7\n[[models]]\nname = \"x\"\n").unwrap();
    assert!(hup().success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        models().await,
        Some(vec!["first".to_owned(), "second".to_owned()])
    );

    // A changed file is picked up without a signal.
    std::fs::write(&path, config(&["third"])).unwrap();
    assert!(wait_for(vec!["third"]).await, "file-change reload");
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(r#"{"model":"third","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The route commands read the running server.
    let explain = switchyard(&["route", "explain", "third", "--url", &url], &[]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.status.success(), "{explain:?}");
    assert!(text.contains("model third (strategy priority)"), "{text}");
    assert!(text.contains("up/gpt-4o-mini"), "{text}");
    let health = switchyard(&["route", "health", "--url", &url], &[]);
    let text = String::from_utf8_lossy(&health.stdout);
    assert!(health.status.success(), "{health:?}");
    let row = text
        .lines()
        .find(|l| l.starts_with("up/gpt-4o-mini"))
        .unwrap();
    assert!(row.contains("healthy"), "{text}");

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = child.stdout.take();
}

/// `keys create|list|revoke` and `usage` on the default store under $SWITCHYARD_HOME, with a
/// real `switchyard serve` between them: the key works until revoked, its usage is in the
/// ledger after shutdown, and neither the key nor the pepper is ever printed again or logged.
#[tokio::test(flavor = "multi_thread")]
async fn keys_and_usage_through_a_running_server() {
    const PEPPER: &str = "cli-canary-pepper-0a1b2c3d4e5f6a7b8c9d";
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_KEY_PEPPER", PEPPER),
    ];
    let no_pepper = switchyard(
        &["keys", "create", "--name", "x"],
        &[("SWITCHYARD_HOME", home_path.as_str())],
    );
    assert_eq!(no_pepper.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_pepper.stderr).contains("SWITCHYARD_KEY_PEPPER"));

    let created = switchyard(
        &["keys", "create", "--name", "search-team", "--models", "m"],
        &env,
    );
    assert!(created.status.success(), "{created:?}");
    let out = String::from_utf8_lossy(&created.stdout).into_owned();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap()
    };
    let (id, secret) = (field("id:"), field("key:"));
    assert!(secret.starts_with("sy_") && secret.len() == 31, "{secret}");
    let listed = switchyard(&["keys", "list"], &env);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&id) && text.contains("search-team") && text.contains("active"));
    assert!(
        text.contains(&secret[..12]) && !text.contains(&secret[12..]),
        "{text}"
    );

    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n[log]\nformat = \"json\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let child = spawn_serve(&path, &env, true);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    assert!(
        answers(&format!("{url}/healthz")).await,
        "server did not start"
    );
    let chat = |key: Option<String>| {
        let mut request = client
            .post(format!("{url}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(chat(None).await, 401, "a key exists: requests need one");
    assert_eq!(chat(Some(secret.clone())).await, 200);

    let revoked = switchyard(&["keys", "revoke", &id], &env);
    assert!(revoked.status.success(), "{revoked:?}");
    let started = std::time::Instant::now();
    let mut served = 1;
    while chat(Some(secret.clone())).await != 401 {
        served += 1;
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        String::from_utf8_lossy(&switchyard(&["keys", "list"], &env).stdout).contains("revoked")
    );

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        !logs.contains(PEPPER) && !logs.contains(&secret[12..]),
        "{logs}"
    );

    let usage = switchyard(&["usage"], &env);
    let text = String::from_utf8_lossy(&usage.stdout);
    assert!(
        text.contains(&format!("requests:       {served}\n")),
        "{text}"
    );
    let csv = switchyard(&["usage", "--csv", "--key", &id], &env);
    let text = String::from_utf8_lossy(&csv.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + served, "{text}");
    assert!(
        lines[1].contains(&id) && lines[1].contains(",m,up/gpt-4o-mini,up,"),
        "{text}"
    );
}

/// `kill -9` of a server under load loses no usage row of an answer that was delivered in
/// full (its spool is replayed at the next start), and duplicates none.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_loses_no_usage_row_of_a_delivered_answer() {
    const PEPPER: &str = "crash-test-pepper-0a1b2c3d4e5f6a7b8c9d";
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        ("SWITCHYARD_KEY_PEPPER", PEPPER),
    ];
    let created = switchyard(&["keys", "create", "--name", "load"], &env);
    let out = String::from_utf8_lossy(&created.stdout).into_owned();
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .unwrap()
        .trim()
        .to_owned();
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let url = format!("http://127.0.0.1:{port}");
    let start = || spawn_serve(&path, &env, false);
    let client = reqwest::Client::new();
    let healthz = format!("{url}/healthz");
    let mut child = start();
    assert!(answers(&healthz).await, "server did not start");

    // Load from 8 clients; each answer read in full is "delivered".
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, url, secret, stop) =
            (client.clone(), url.clone(), secret.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut delivered = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = client
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .header("content-type", "application/json")
                    .body(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
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
    let delivered = support::kill_9_under_load(
        &mut child,
        std::time::Duration::from_millis(700),
        &stop,
        workers,
    )
    .await;
    assert!(delivered.len() > 20, "too little load: {}", delivered.len());

    // The next start replays what the killed process spooled.
    let child = start();
    assert!(answers(&healthz).await, "server did not restart");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait_with_output();
    let csv = switchyard(&["usage", "--csv"], &env);
    let text = String::from_utf8_lossy(&csv.stdout);
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicate rows");
    let missing: Vec<&String> = delivered
        .iter()
        .filter(|id| !unique.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} delivered answers have no row",
        missing.len(),
        delivered.len()
    );
}

/// The key and usage commands through a running server's admin API (`--admin-url`).
#[tokio::test(flavor = "multi_thread")]
async fn keys_through_the_admin_api() {
    const TOKEN: &str = "admin-token-for-cli-test-123";
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, admin_port) = (free_port(), free_port());
    let mock = switchyard_testkit::MockOpenAi::start().await.unwrap();
    let (_dir, path) = write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\
         [[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\n\
         [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
        mock.base_url()
    ));
    let server_env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        (
            "SWITCHYARD_KEY_PEPPER",
            "admin-cli-pepper-0a1b2c3d4e5f6a7b8c9d",
        ),
        ("SWITCHYARD_ADMIN_TOKEN", TOKEN),
    ];
    let mut child = spawn_serve(&path, &server_env, false);
    let admin_url = format!("http://127.0.0.1:{admin_port}");
    let client = reqwest::Client::new();
    assert!(
        answers(&format!("{admin_url}/admin/openapi.json")).await,
        "admin API did not start"
    );
    // The CLI holds no pepper and no store: only the URL and the token.
    let cli_env = [("SWITCHYARD_ADMIN_TOKEN", TOKEN)];
    let no_token = switchyard(&["keys", "list", "--admin-url", &admin_url], &[]);
    assert_eq!(no_token.status.code(), Some(2));
    let created = switchyard(
        &[
            "keys",
            "create",
            "--name",
            "remote",
            "--rpm",
            "50",
            "--admin-url",
            &admin_url,
        ],
        &cli_env,
    );
    assert!(created.status.success(), "{created:?}");
    let out = String::from_utf8_lossy(&created.stdout).into_owned();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap()
    };
    let (id, secret) = (field("id:"), field("key:"));
    let status = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .body(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "usable at once");
    let listed = switchyard(&["keys", "list", "--admin-url", &admin_url], &cli_env);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&id) && text.contains("remote") && text.contains("50"),
        "{text}"
    );
    assert!(!text.contains(&secret[12..]));
    let revoked = switchyard(
        &["keys", "revoke", &id, "--admin-url", &admin_url],
        &cli_env,
    );
    assert!(revoked.status.success(), "{revoked:?}");
    let listed = switchyard(&["keys", "list", "--admin-url", &admin_url], &cli_env);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("revoked"));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `tenants create|update|list|token|disable` and `keys update` on the default store.
#[test]
fn tenants_and_key_changes_on_the_store() {
    let home = tempdir::Dir::new();
    let home_path = home.path.display().to_string();
    let env = [
        ("SWITCHYARD_HOME", home_path.as_str()),
        (
            "SWITCHYARD_KEY_PEPPER",
            "tenant-cli-pepper-0a1b2c3d4e5f6a7b8c9d",
        ),
    ];
    let field = |out: &Output, name: &str| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name}: {out:?}"))
    };
    let org = switchyard(
        &["tenants", "create", "--name", "acme", "--budget-usd", "50"],
        &env,
    );
    assert!(org.status.success(), "{org:?}");
    let org = field(&org, "id:");
    let team = switchyard(
        &["tenants", "create", "--name", "search", "--parent", &org],
        &env,
    );
    let team = field(&team, "id:");
    let nested = switchyard(
        &["tenants", "create", "--name", "x", "--parent", &team],
        &env,
    );
    assert_eq!(
        nested.status.code(),
        Some(2),
        "teams do not nest: {nested:?}"
    );
    assert!(String::from_utf8_lossy(&nested.stderr).contains("parent_id"));
    let updated = switchyard(
        &[
            "tenants",
            "update",
            &team,
            "--rpm",
            "60",
            "--model-limits",
            r#"{"m": {"tpm": 1000}}"#,
        ],
        &env,
    );
    assert!(updated.status.success(), "{updated:?}");
    let bad = switchyard(&["tenants", "update", &team, "--rpm", "0"], &env);
    assert_eq!(bad.status.code(), Some(2));
    let listed =
        String::from_utf8_lossy(&switchyard(&["tenants", "list"], &env).stdout).into_owned();
    assert!(
        listed.contains("search")
            && listed.contains(" 60 ")
            && listed.contains("$50.000000000 monthly"),
        "{listed}"
    );

    let key = switchyard(
        &["keys", "create", "--name", "app", "--tenant", &team],
        &env,
    );
    let id = field(&key, "id:");
    let changed = switchyard(
        &["keys", "update", &id, "--rpm", "5", "--name", "app2"],
        &env,
    );
    assert!(changed.status.success(), "{changed:?}");
    let keys = String::from_utf8_lossy(&switchyard(&["keys", "list"], &env).stdout).into_owned();
    assert!(keys.contains("app2") && keys.contains(" 5 "), "{keys}");
    let cleared = switchyard(&["keys", "update", &id, "--rpm", "none"], &env);
    assert!(cleared.status.success());

    let token = switchyard(&["tenants", "token", &org], &env);
    assert!(field(&token, "token:").starts_with("sya_"), "{token:?}");
    assert!(switchyard(&["tenants", "disable", &team], &env)
        .status
        .success());
    let listed =
        String::from_utf8_lossy(&switchyard(&["tenants", "list"], &env).stdout).into_owned();
    assert!(listed.contains("disabled"), "{listed}");
}
