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

    /// Whether `/healthz` answers 200.
    pub async fn healthy(&self) -> bool {
        reqwest::get(format!("{}/healthz", self.url))
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    pub fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
    }
}

/// A provider's credentials in the config: an API key (with an `api_version` for Azure), AWS
/// keys for Bedrock, a Google service-account key for Vertex AI whose token endpoint is
/// `{root}/token` (written to a temporary file named after `tag`).
pub fn credentials(kind: &str, root: &str, tag: &str) -> String {
    match kind {
        "bedrock" => "region = \"eu-central-1\"\naws_access_key_id = \"AKIDEXAMPLE\"\naws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"".to_owned(),
        "vertex" => {
            let file = std::env::temp_dir().join(format!("switchyard-{tag}-sa-{}.json", std::process::id()));
            let key = include_str!("../../../providers/testdata/vertex-test-key.pem");
            let sa = serde_json::json!({"type": "service_account", "private_key": key, "private_key_id": "k1",
                            "client_email": "gw@acme-ai.iam.gserviceaccount.com", "token_uri": format!("{root}/token")});
            std::fs::write(&file, sa.to_string()).unwrap();
            format!("project = \"acme-ai\"\nlocation = \"europe-west4\"\ncredentials_file = \"{}\"", file.display())
        }
        "azure" => "api_key = \"k\"\napi_version = \"2024-10-21\"".to_owned(),
        _ => "api_key = \"k\"".to_owned(),
    }
}
