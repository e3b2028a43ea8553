//! The audit log: append-only and hash-chained (`h_i = SHA-256(h_{i-1} || record_i)`, the
//! first `h_0` being 32 zero bytes), with Ed25519-signed checkpoints every N records or
//! minutes and a signed head (the last record's position and hash) rewritten on every
//! append. Records are metadata and hashes, never prompts or answers, so erasing content
//! elsewhere never breaks the chain.
//!
//! Appends from several processes are serialised (PostgreSQL: an advisory lock in the
//! transaction; SQLite: one writer at a time) and the position is the primary key, so the
//! chain never forks. [`verify`] names the first bad record after any edit, deletion,
//! reordering or truncation.

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use crate::{column, within, Backend, Store, StoreError};

mod verify;

pub use verify::{verify, Verdict};

/// One record to append: its kind (`request`, `admin`, `config`), what it is about (a
/// request id, a key id), and the record itself (JSON text, hashed as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub kind: String,
    pub ref_id: String,
    pub record: String,
}

/// A stored record and its chain hash (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub ref_id: String,
    pub record: String,
    pub hash: String,
}

/// A signed statement that the chain's hash at `seq` was `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub seq: i64,
    pub at: i64,
    pub hash: String,
    /// Base64 of the Ed25519 public key that signed.
    pub public_key: String,
    /// Base64 of the signature over [`signed_message`].
    pub signature: String,
}

/// The chain hash after `previous` (raw 32 bytes) and `record`.
pub fn chain(previous: &[u8; 32], record: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(record.as_bytes());
    hasher.finalize().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// What a checkpoint or head signs.
pub fn signed_message(kind: &str, seq: i64, hash: &str) -> String {
    format!("switchyard-audit-v1:{kind}:{seq}:{hash}")
}

/// The audit signing key (Ed25519), from a base64 32-byte seed. Never printed.
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl Signer {
    /// From the base64 (standard) text of a 32-byte seed.
    pub fn from_base64(text: &str) -> Result<Signer, StoreError> {
        let seed = base64::engine::general_purpose::STANDARD
            .decode(text.trim().as_bytes())
            .map_err(|_| StoreError::Invalid("the audit key is not base64".into()))?;
        if seed.len() != 32 {
            return Err(StoreError::Invalid(
                "the audit key must be 32 bytes (base64 of an Ed25519 seed)".into(),
            ));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| StoreError::Invalid("the audit key is not an Ed25519 seed".into()))?;
        Ok(Signer { pair })
    }

    /// A new random key: (seed as base64, public key as base64).
    pub fn generate() -> Result<(String, String), StoreError> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| StoreError::Invalid("no system randomness".into()))?;
        let seed_text = base64::engine::general_purpose::STANDARD.encode(seed);
        let public = Signer::from_base64(&seed_text)?.public_key();
        Ok((seed_text, public))
    }

    /// Base64 of the public key.
    pub fn public_key(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pair.public_key().as_ref())
    }

    fn sign(&self, kind: &str, seq: i64, hash: &str, at: i64) -> Signed {
        let signature = self.pair.sign(signed_message(kind, seq, hash).as_bytes());
        Signed {
            seq,
            at,
            hash: hash.to_owned(),
            public_key: self.public_key(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        }
    }
}

/// Whether `signed` is a valid signature of `kind` by `public_key` (base64).
pub fn signature_valid(kind: &str, signed: &Signed, public_key: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(key), Ok(signature)) = (
        engine.decode(public_key.as_bytes()),
        engine.decode(signed.signature.as_bytes()),
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, key)
        .verify(
            signed_message(kind, signed.seq, &signed.hash).as_bytes(),
            &signature,
        )
        .is_ok()
}

/// When to write a signed checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointEvery {
    pub records: i64,
    pub millis: i64,
}

/// Any number: the audit append lock's identity ("sy" + "aud").
const AUDIT_LOCK: i64 = 0x0073_7961_7564;
const HEAD_ID: i64 = 1;
/// Rows per INSERT statement (6 parameters each, well under every backend's limit).
const INSERT_ROWS: usize = 128;

impl Store {
    /// Appends `entries` to the chain in one transaction; returns their positions. With a
    /// signer, rewrites the signed head and writes a checkpoint when one is due.
    pub async fn append_audit(
        &self,
        entries: &[Entry],
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // A concurrent SQLite writer may take the same position first: read again and retry.
        let mut last_error = None;
        for _ in 0..8 {
            match self.try_append(entries, signer, every).await {
                Ok(seqs) => return Ok(seqs),
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 + fastrand_ms())).await;
        }
        Err(last_error.unwrap_or_else(|| StoreError::Database("audit append failed".into())))
    }

    async fn try_append(
        &self,
        entries: &[Entry],
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = within(self.pool().begin()).await?;
        if self.backend() == Backend::Postgres {
            within(
                sqlx::query(&format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})"))
                    .execute(&mut *tx),
            )
            .await?;
        }
        let last = within(
            sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx),
        )
        .await?;
        let (mut seq, mut hash) = match last {
            None => (0i64, [0u8; 32]),
            Some(row) => {
                let seq: i64 = column(&row, "seq")?;
                let text: String = column(&row, "hash")?;
                let hash = unhex(&text).ok_or_else(|| {
                    StoreError::Database(format!("audit record {seq} has a malformed hash"))
                })?;
                (seq, hash)
            }
        };
        let mut seqs = Vec::with_capacity(entries.len());
        let mut at = 0i64;
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            hash = chain(&hash, &entry.record);
            at = entry.at;
            rows.push((seq, entry, hex(&hash)));
            seqs.push(seq);
        }
        // Many rows per statement: one round trip to the database per chunk.
        for chunk in rows.chunks(INSERT_ROWS) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_log (seq, at, kind, ref_id, record, hash) VALUES {}",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (seq, entry, hash) in chunk {
                query = query
                    .bind(*seq)
                    .bind(entry.at)
                    .bind(entry.kind.as_str())
                    .bind(entry.ref_id.as_str())
                    .bind(entry.record.as_str())
                    .bind(hash.as_str());
            }
            within(query.execute(&mut *tx)).await?;
        }
        if let Some(signer) = signer {
            let hash = hex(&hash);
            let head = signer.sign("head", seq, &hash, at);
            within(
                sqlx::query("DELETE FROM audit_head WHERE id = $1")
                    .bind(HEAD_ID)
                    .execute(&mut *tx),
            )
            .await?;
            within(
                sqlx::query(
                    "INSERT INTO audit_head (id, seq, at, hash, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(HEAD_ID)
                .bind(head.seq)
                .bind(head.at)
                .bind(&head.hash)
                .bind(&head.public_key)
                .bind(&head.signature)
                .execute(&mut *tx),
            )
            .await?;
            let previous = within(
                sqlx::query("SELECT seq, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx),
            )
            .await?;
            let (cp_seq, cp_at) = match previous {
                Some(row) => (column::<i64>(&row, "seq")?, column::<i64>(&row, "at")?),
                None => (0, i64::MIN / 2),
            };
            if seq - cp_seq >= every.records || at - cp_at >= every.millis {
                let cp = signer.sign("checkpoint", seq, &hash, at);
                insert_checkpoint(&mut tx, &cp).await?;
            }
        }
        within(tx.commit()).await?;
        Ok(seqs)
    }

    /// Every record, in chain order (`from` onwards), at most `limit`.
    pub async fn audit_records(&self, from: i64, limit: i64) -> Result<Vec<Record>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT seq, at, kind, ref_id, record, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(from)
            .bind(limit)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(record).collect()
    }

    /// The records about `ref_id` (a request id), in chain order.
    pub async fn audit_for(&self, ref_id: &str) -> Result<Vec<Record>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT seq, at, kind, ref_id, record, hash FROM audit_log WHERE ref_id = $1 ORDER BY seq",
            )
            .bind(ref_id)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(record).collect()
    }

    /// Every checkpoint, in order.
    pub async fn audit_checkpoints(&self) -> Result<Vec<Signed>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT seq, at, hash, public_key, signature FROM audit_checkpoints ORDER BY seq",
            )
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(signed).collect()
    }

    /// The signed head, if one was written.
    pub async fn audit_head(&self) -> Result<Option<Signed>, StoreError> {
        let row = within(
            sqlx::query(
                "SELECT seq, at, hash, public_key, signature FROM audit_head WHERE id = $1",
            )
            .bind(HEAD_ID)
            .fetch_optional(self.pool()),
        )
        .await?;
        row.as_ref().map(signed).transpose()
    }
}

async fn insert_checkpoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    cp: &Signed,
) -> Result<(), StoreError> {
    within(
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, at, hash, public_key, signature) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(cp.seq)
        .bind(cp.at)
        .bind(&cp.hash)
        .bind(&cp.public_key)
        .bind(&cp.signature)
        .execute(&mut **tx),
    )
    .await
    .map(|_| ())
}

fn record(row: &sqlx::any::AnyRow) -> Result<Record, StoreError> {
    Ok(Record {
        seq: column(row, "seq")?,
        at: column(row, "at")?,
        kind: column(row, "kind")?,
        ref_id: column(row, "ref_id")?,
        record: column(row, "record")?,
        hash: column(row, "hash")?,
    })
}

fn signed(row: &sqlx::any::AnyRow) -> Result<Signed, StoreError> {
    Ok(Signed {
        seq: column(row, "seq")?,
        at: column(row, "at")?,
        hash: column(row, "hash")?,
        public_key: column(row, "public_key")?,
        signature: column(row, "signature")?,
    })
}

/// A few milliseconds of jitter between append retries.
fn fastrand_ms() -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 20,
    )
}

#[cfg(test)]
mod tests;
