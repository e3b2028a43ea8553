//! Running the `switchyard` binary from tests: one-shot commands, a `serve` child, waiting
//! for it, and throwaway config folders.

// Each test file uses its own part of this module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

pub fn switchyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(args)
        .env_remove("SWITCHYARD_URL")
        .env_remove("SWITCHYARD_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `switchyard serve --config PATH` with these variables; its output piped when `logs`.
pub fn spawn_serve(path: &str, env: &[(&str, &str)], logs: bool) -> std::process::Child {
    let output = || {
        if logs {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        }
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", path])
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .env_remove("SWITCHYARD_CONFIG")
        .stdout(output())
        .stderr(output())
        .spawn()
        .unwrap()
}

/// Whether `url` answers within 10 s.
pub async fn answers(url: &str) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(url).send().await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

pub fn example() -> String {
    format!("{}/../../examples/mock.toml", env!("CARGO_MANIFEST_DIR"))
}

pub fn write_config(text: &str) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("c.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

pub mod tempdir {
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

/// Kills the processes it holds when dropped, so a failing test leaves no server running.
#[derive(Default)]
pub struct Reaper(pub Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Lets `workers` load the server for `after`, then kills it (`kill -9`), tells the workers
/// to stop, and gathers what each of them got.
pub async fn kill_9_under_load<T>(
    child: &mut std::process::Child,
    after: std::time::Duration,
    stop: &std::sync::atomic::AtomicBool,
    workers: Vec<tokio::task::JoinHandle<Vec<T>>>,
) -> Vec<T> {
    tokio::time::sleep(after).await;
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut got = Vec::new();
    for w in workers {
        got.extend(w.await.unwrap());
    }
    got
}
