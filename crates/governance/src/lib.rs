//! Governance: who may call (virtual keys), how much they may spend (budgets), how fast
//! (rate limits), and the record of what they did (the usage ledger's writer, the audit
//! log's writer).
//!
//! The hot path never waits for the database: keys are checked against an in-memory cache
//! that follows the store, and ledger rows leave through a bounded queue.

pub mod audit;
pub mod budget;
pub mod governance;
pub mod issue;
pub mod key_cache;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod patch;
pub mod rate;
pub mod report;
pub mod shared;
pub mod spool;
pub mod tenants;

pub use governance::Governance;
pub use key_cache::{Caller, KeyCache};
pub use keys::{KeySecret, Pepper};
pub use ledger::LedgerWriter;
