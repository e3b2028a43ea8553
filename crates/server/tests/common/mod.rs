//! A real gateway on an ephemeral loopback port, shared by the HTTP test files.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use switchyard_server::AppState;
use tokio::sync::oneshot;

pub struct Gateway {
    pub url: String,
    /// Send to start a graceful shutdown.
    pub shutdown: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Serves `config` (5 s drain) with the given timeout for a client's request headers.
    pub async fn serve(config: &switchyard_config::Config, header_timeout: Duration) -> Gateway {
        let state = AppState::build(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(switchyard_server::serve_with(
            state,
            listener,
            Box::pin(async move {
                let _ = rx.await;
            }),
            Duration::from_secs(5),
            header_timeout,
        ));
        Gateway {
            url,
            shutdown: Some(tx),
            task,
        }
    }

    pub fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
    }
}
