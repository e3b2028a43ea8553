//! Hugging Face Hub: `{endpoint}/{repo}/resolve/{revision}/{path}`, resumable, verified.

use super::{download, prepare, verify_and_commit, Endpoints, Progress};
use crate::catalog::Entry;
use crate::store::Store;

#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch(
    client: &reqwest::Client,
    endpoints: &Endpoints,
    repo: &str,
    revision: &str,
    files: &[(String, String)],
    entry: &Entry,
    store: &Store,
    progress: &mut dyn Progress,
) -> Result<(), String> {
    for spec in store.missing(entry) {
        let Some((remote, _)) = files.iter().find(|(_, local)| *local == spec.path) else {
            return Err(format!("this source does not provide {}", spec.path));
        };
        let url = format!(
            "{}/{repo}/resolve/{revision}/{remote}",
            endpoints.huggingface.trim_end_matches('/')
        );
        let (dest, partial) = prepare(store, entry, spec)?;
        let transfer = download::Transfer {
            url: &url,
            bearer: endpoints.hf_token.as_deref(),
            partial: &partial,
            expected: Some(spec.size),
            label: &spec.path,
        };
        download::resumable(client, &transfer, progress).await?;
        verify_and_commit(&partial, spec, &dest, progress).await?;
    }
    Ok(())
}
