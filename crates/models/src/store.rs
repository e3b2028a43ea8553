//! The model store: `$SWITCHYARD_HOME/models/<name>/<files>` (home defaults to
//! `~/.switchyard`). A file is present when it has its catalog size; downloads in progress
//! live beside it as `<file>.partial` and only become the file after their SHA-256 matched.

use std::path::{Path, PathBuf};

use crate::catalog::{Entry, FileSpec};

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `$SWITCHYARD_HOME`, or `~/.switchyard`.
    pub fn from_env() -> Self {
        let home = std::env::var_os("SWITCHYARD_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".switchyard")))
            .unwrap_or_else(|| PathBuf::from(".switchyard"));
        Self::at(home)
    }

    /// A store rooted at `home` (models go under `home/models`).
    pub fn at(home: impl Into<PathBuf>) -> Self {
        Self { root: home.into() }
    }

    pub fn home(&self) -> &Path {
        &self.root
    }

    /// The folder holding a model's files.
    pub fn model_dir(&self, entry: &Entry) -> PathBuf {
        self.root.join("models").join(&entry.name)
    }

    pub fn file_path(&self, entry: &Entry, file: &FileSpec) -> PathBuf {
        self.model_dir(entry).join(&file.path)
    }

    /// The path a server loads: the single file of a one-file model, else its folder.
    pub fn load_path(&self, entry: &Entry) -> PathBuf {
        match entry.files.as_slice() {
            [only] => self.file_path(entry, only),
            _ => self.model_dir(entry),
        }
    }

    /// Files of `entry` that are missing or have the wrong size.
    pub fn missing<'a>(&self, entry: &'a Entry) -> Vec<&'a FileSpec> {
        entry
            .files
            .iter()
            .filter(|f| {
                std::fs::metadata(self.file_path(entry, f))
                    .map(|m| m.len() != f.size)
                    .unwrap_or(true)
            })
            .collect()
    }

    pub fn is_present(&self, entry: &Entry) -> bool {
        self.missing(entry).is_empty()
    }

    /// Bytes already downloaded towards `entry` (complete and partial files).
    pub fn bytes_present(&self, entry: &Entry) -> u64 {
        entry
            .files
            .iter()
            .map(|f| {
                let done = self.file_path(entry, f);
                std::fs::metadata(&done)
                    .or_else(|_| std::fs::metadata(partial_path(&done)))
                    .map(|m| m.len().min(f.size))
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// Where a download in progress is kept.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}
