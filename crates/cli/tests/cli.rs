//! The `switchyard` binary as a user runs it: exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn switchyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(args)
        .env_remove("SWITCHYARD_URL")
        .env_remove("SWITCHYARD_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn example() -> String {
    format!("{}/../../examples/mock.toml", env!("CARGO_MANIFEST_DIR"))
}

fn write_config(text: &str) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("c.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "switchyard-cli-{}-{}",
                std::process::id(),
                fastrand_suffix()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
    fn fastrand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}

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
