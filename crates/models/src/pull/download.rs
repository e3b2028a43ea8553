//! Resumable HTTP downloads into `.partial` files.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, RANGE};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use super::Progress;

/// Attempts per file; each resumes where the previous one stopped.
const ATTEMPTS: u32 = 4;

pub(super) fn client() -> Result<reqwest::Client, String> {
    // Trusts the system's CA store (corporate TLS proxies, private mirrors) on top of the
    // built-in web roots.
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// One file to fetch.
pub(super) struct Transfer<'a> {
    pub url: &'a str,
    /// Sent as `Authorization: Bearer`.
    pub bearer: Option<&'a str>,
    /// Where the bytes go; its current length is where the download resumes.
    pub partial: &'a Path,
    /// The full size, when known.
    pub expected: Option<u64>,
    /// What the progress display calls it.
    pub label: &'a str,
}

/// Downloads `t.url` into `t.partial`, resuming from its current length. Transient failures
/// are retried, each retry resuming.
pub(super) async fn resumable(
    client: &reqwest::Client,
    t: &Transfer<'_>,
    progress: &mut dyn Progress,
) -> Result<(), String> {
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            progress.note(&format!(
                "{}: {last_error}; resuming (attempt {} of {ATTEMPTS})",
                t.label,
                attempt + 1
            ));
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        match once(client, t, progress).await {
            Ok(()) => return Ok(()),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Transient(e)) => last_error = e,
        }
    }
    Err(last_error)
}

enum Failure {
    /// Retrying cannot help (unreachable host, 404, 401, wrong size).
    Fatal(String),
    /// A dropped connection or a 5xx: resume.
    Transient(String),
}

async fn once(
    client: &reqwest::Client,
    t: &Transfer<'_>,
    progress: &mut dyn Progress,
) -> Result<(), Failure> {
    let Transfer {
        url,
        bearer,
        partial,
        expected,
        label,
    } = *t;
    let mut have = tokio::fs::metadata(partial)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if let Some(total) = expected {
        if have == total {
            return Ok(());
        }
        if have > total {
            have = 0;
        }
    }
    let mut request = client.get(url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    if let Some(token) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request.send().await.map_err(|e| {
        let message = format!("request failed: {}", describe(&e));
        // Unreachable (DNS, refused, TLS): the next source is a better bet than waiting.
        if e.is_connect() {
            Failure::Fatal(message)
        } else {
            Failure::Transient(message)
        }
    })?;
    let status = response.status();
    let append = match status {
        StatusCode::PARTIAL_CONTENT => true,
        StatusCode::OK => false,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // The partial file is longer than the resource: start over.
            let _ = tokio::fs::remove_file(partial).await;
            return Err(Failure::Transient(
                "the partial download did not match; restarting".into(),
            ));
        }
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            return Err(Failure::Transient(format!("HTTP {s}")))
        }
        s => return Err(Failure::Fatal(format!("HTTP {s}"))),
    };
    let start = if append { have } else { 0 };
    let total = expected.or_else(|| response.content_length().map(|l| l + start));
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(partial)
        .await
        .map_err(|e| Failure::Fatal(format!("cannot write {}: {e}", partial.display())))?;
    progress.start(label, total.unwrap_or(0));
    let mut done = start;
    progress.update(done);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = file.flush().await;
                progress.finish();
                return Err(Failure::Transient(format!(
                    "connection lost after {done} bytes: {}",
                    describe(&e)
                )));
            }
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| Failure::Fatal(format!("cannot write {}: {e}", partial.display())))?;
        done += chunk.len() as u64;
        if total.is_some_and(|t| done > t) {
            progress.finish();
            return Err(Failure::Fatal(format!(
                "the server sent more than the expected {} bytes",
                total.unwrap_or(0)
            )));
        }
        progress.update(done);
    }
    file.flush()
        .await
        .map_err(|e| Failure::Fatal(format!("cannot write {}: {e}", partial.display())))?;
    progress.finish();
    match total {
        Some(t) if done < t => Err(Failure::Transient(format!(
            "the transfer ended after {done} of {t} bytes"
        ))),
        _ => Ok(()),
    }
}

/// A reqwest error with its causes, without the URL (a mirror URL may carry credentials).
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
