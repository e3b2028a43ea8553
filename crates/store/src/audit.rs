//! The audit log: append-only and hash-chained, one chain ("lane") per writer. In a lane,
//! `h_i = SHA-256(h_{i-1} || record_i)`, the first `h_0` being 32 zero bytes, positions 1..n;
//! Ed25519-signed checkpoints every N records or minutes and a signed head (the lane's last
//! position and hash) rewritten on every append. Records are metadata and hashes, never
//! prompts or answers, so erasing content elsewhere never breaks a chain.
//!
//! A server process opens its own lane at start ([`Store::open_audit_lane`]): it alone
//! appends there, so it knows each record's position when it makes the record (a receipt
//! names it) and replicas never wait on each other. A lane's first record is its opening;
//! the register (`audit_lanes`) lists every lane, so a lane removed whole is caught too.
//! [`verify`] names the first bad record after any edit, deletion, reordering or truncation.

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use crate::{column, within, Backend, Store, StoreError};

mod verify;

pub use verify::{verify, Verdict};

/// One record to append: its kind (`request`, `admin`, `config`, `lane`), what it is about
/// (a request id, a key id), and the record itself (JSON text, hashed as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub kind: String,
    pub ref_id: String,
    pub record: String,
    /// The position its lane's writer gave it (`None`: the next one free).
    pub seq: Option<i64>,
}

/// A stored record and its chain hash (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub lane: i64,
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub ref_id: String,
    pub record: String,
    pub hash: String,
}

/// A signed statement that lane `lane`'s hash at `seq` was `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub lane: i64,
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

/// A lane in the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub lane: i64,
    pub opened_at: i64,
    pub opened_by: String,
}

/// A record's place: lane and position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub lane: i64,
    pub position: i64,
}

/// What a checkpoint or head signs.
pub fn signed_message(kind: &str, lane: i64, seq: i64, hash: &str) -> String {
    format!("switchyard-audit-v2:{kind}:{lane}:{seq}:{hash}")
}

/// What a checkpoint or head of the single chain before lanes (now lane 0) signed.
fn legacy_message(kind: &str, seq: i64, hash: &str) -> String {
    format!("switchyard-audit-v1:{kind}:{seq}:{hash}")
}

/// The opening record of `lane`.
pub fn opening_record(lane: i64, at: i64, opened_by: &str) -> String {
    serde_json::json!({"kind": "lane", "lane": lane, "at": at, "opened_by": opened_by}).to_string()
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

    fn sign(&self, kind: &str, lane: i64, seq: i64, hash: &str, at: i64) -> Signed {
        let signature = self
            .pair
            .sign(signed_message(kind, lane, seq, hash).as_bytes());
        Signed {
            lane,
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
    let key = UnparsedPublicKey::new(&ED25519, key);
    let message = signed_message(kind, signed.lane, signed.seq, &signed.hash);
    key.verify(message.as_bytes(), &signature).is_ok()
        || (signed.lane == 0
            && key
                .verify(
                    legacy_message(kind, signed.seq, &signed.hash).as_bytes(),
                    &signature,
                )
                .is_ok())
}

/// When to write a signed checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointEvery {
    pub records: i64,
    pub millis: i64,
}

/// Any number: the audit append lock's identity ("sy" + "aud").
const AUDIT_LOCK: i64 = 0x0073_7961_7564;
/// Rows per INSERT statement on PostgreSQL (7 parameters each, well under its limit): one
/// round trip per chunk.
const INSERT_ROWS_POSTGRES: usize = 128;
/// Rows per INSERT statement on SQLite: binding a parameter looks its name up in a list
/// (linear), so a statement's binding grows with the square of its parameters; 16 rows
/// keep that small while still sharing one statement among many rows.
const INSERT_ROWS_SQLITE: usize = 16;

impl Store {
    /// Opens a new lane for one writer (`opened_by`: which process) and writes its opening
    /// record (position 1) in the same transaction; returns the lane.
    pub async fn open_audit_lane(
        &self,
        opened_by: &str,
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<i64, StoreError> {
        let mut last_error = None;
        for _ in 0..8 {
            match self.try_open_lane(opened_by, signer, every).await {
                Ok(lane) => return Ok(lane),
                // A concurrent SQLite writer took the same number first: read again.
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 + fastrand_ms())).await;
        }
        Err(last_error
            .unwrap_or_else(|| StoreError::Database("opening an audit lane failed".into())))
    }

    async fn try_open_lane(
        &self,
        opened_by: &str,
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<i64, StoreError> {
        let mut tx = within(self.pool().begin()).await?;
        if self.backend() == Backend::Postgres {
            within(
                sqlx::query(&format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})"))
                    .execute(&mut *tx),
            )
            .await?;
        }
        let row = within(
            sqlx::query("SELECT COALESCE(MAX(lane), 0) + 1 AS lane FROM audit_lanes")
                .fetch_one(&mut *tx),
        )
        .await?;
        let lane: i64 = column(&row, "lane")?;
        let at = crate::now_ms();
        within(
            sqlx::query("INSERT INTO audit_lanes (lane, opened_at, opened_by) VALUES ($1, $2, $3)")
                .bind(lane)
                .bind(at)
                .bind(opened_by)
                .execute(&mut *tx),
        )
        .await?;
        let opening = Entry {
            at,
            kind: "lane".into(),
            ref_id: format!("lane-{lane}"),
            record: opening_record(lane, at, opened_by),
            seq: Some(1),
        };
        append_in(
            &mut tx,
            self.backend(),
            lane,
            std::slice::from_ref(&opening),
            signer,
            every,
        )
        .await?;
        within(tx.commit()).await?;
        Ok(lane)
    }

    /// Appends `entries` to `lane` in one transaction; returns their positions. An entry
    /// whose position is already written (a retried batch that had committed) is skipped;
    /// one that would leave a gap is an error. With a signer, rewrites the lane's signed
    /// head and writes a checkpoint when one is due.
    pub async fn append_audit(
        &self,
        lane: i64,
        entries: &[Entry],
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut last_error = None;
        for _ in 0..8 {
            match self.try_append(lane, entries, signer, every).await {
                Ok(seqs) => return Ok(seqs),
                Err(err @ StoreError::Invalid(_)) => return Err(err),
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 + fastrand_ms())).await;
        }
        Err(last_error.unwrap_or_else(|| StoreError::Database("audit append failed".into())))
    }

    async fn try_append(
        &self,
        lane: i64,
        entries: &[Entry],
        signer: Option<&Signer>,
        every: CheckpointEvery,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = within(self.pool().begin()).await?;
        if self.backend() == Backend::Postgres {
            // One writer per lane; the lock only guards against a second one by mistake.
            within(
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK.wrapping_add(lane))
                    .execute(&mut *tx),
            )
            .await?;
        }
        let seqs = append_in(&mut tx, self.backend(), lane, entries, signer, every).await?;
        within(tx.commit()).await?;
        Ok(seqs)
    }

    /// Records in (lane, position) order from `from` (inclusive), at most `limit`.
    pub async fn audit_records(
        &self,
        from: (i64, i64),
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT lane, seq, at, kind, ref_id, record, hash FROM audit_chain WHERE lane > $1 OR (lane = $2 AND seq >= $3) ORDER BY lane, seq LIMIT $4",
            )
            .bind(from.0)
            .bind(from.0)
            .bind(from.1)
            .bind(limit)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(record).collect()
    }

    /// The record at `lane`/`seq`.
    pub async fn audit_record(&self, lane: i64, seq: i64) -> Result<Option<Record>, StoreError> {
        let row = within(
            sqlx::query(
                "SELECT lane, seq, at, kind, ref_id, record, hash FROM audit_chain WHERE lane = $1 AND seq = $2",
            )
            .bind(lane)
            .bind(seq)
            .fetch_optional(self.pool()),
        )
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// The last position written in `lane` (0: none).
    pub async fn audit_lane_end(&self, lane: i64) -> Result<i64, StoreError> {
        let row = within(
            sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_chain WHERE lane = $1")
                .bind(lane)
                .fetch_one(self.pool()),
        )
        .await?;
        column(&row, "seq")
    }

    /// The records about `ref_id` (a request id), in chain order. Not indexed: for tools.
    pub async fn audit_for(&self, ref_id: &str) -> Result<Vec<Record>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT lane, seq, at, kind, ref_id, record, hash FROM audit_chain WHERE ref_id = $1 ORDER BY lane, seq",
            )
            .bind(ref_id)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(record).collect()
    }

    /// Every checkpoint, in (lane, position) order.
    pub async fn audit_checkpoints(&self) -> Result<Vec<Signed>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT lane, seq, at, hash, public_key, signature FROM audit_lane_checkpoints ORDER BY lane, seq",
            )
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(signed).collect()
    }

    /// Every lane's signed head, in lane order.
    pub async fn audit_heads(&self) -> Result<Vec<Signed>, StoreError> {
        let rows = within(
            sqlx::query(
                "SELECT lane, seq, at, hash, public_key, signature FROM audit_lane_heads ORDER BY lane",
            )
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(signed).collect()
    }

    /// The lane register, in lane order.
    pub async fn audit_lanes(&self) -> Result<Vec<Lane>, StoreError> {
        let rows = within(
            sqlx::query("SELECT lane, opened_at, opened_by FROM audit_lanes ORDER BY lane")
                .fetch_all(self.pool()),
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Lane {
                    lane: column(row, "lane")?,
                    opened_at: column(row, "opened_at")?,
                    opened_by: column(row, "opened_by")?,
                })
            })
            .collect()
    }
}

/// Appends `entries` to `lane` inside `tx` (see [`Store::append_audit`]).
async fn append_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    lane: i64,
    entries: &[Entry],
    signer: Option<&Signer>,
    every: CheckpointEvery,
) -> Result<Vec<i64>, StoreError> {
    let last = within(
        sqlx::query("SELECT seq, hash FROM audit_chain WHERE lane = $1 ORDER BY seq DESC LIMIT 1")
            .bind(lane)
            .fetch_optional(&mut **tx),
    )
    .await?;
    let (mut seq, mut hash) = match last {
        None => (0i64, [0u8; 32]),
        Some(row) => {
            let seq: i64 = column(&row, "seq")?;
            let text: String = column(&row, "hash")?;
            let hash = unhex(&text).ok_or_else(|| {
                StoreError::Database(format!(
                    "audit lane {lane} record {seq} has a malformed hash"
                ))
            })?;
            (seq, hash)
        }
    };
    let mut seqs = Vec::with_capacity(entries.len());
    let mut at = 0i64;
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.seq {
            // Written by an earlier try whose commit was not seen.
            Some(given) if given <= seq => {
                seqs.push(given);
                continue;
            }
            Some(given) if given != seq + 1 => {
                return Err(StoreError::Invalid(format!(
                    "audit lane {lane}: record {given} would leave a gap after {seq}"
                )))
            }
            _ => {}
        }
        seq += 1;
        hash = chain(&hash, &entry.record);
        at = entry.at;
        rows.push((seq, entry, hex(&hash)));
        seqs.push(seq);
    }
    if rows.is_empty() {
        return Ok(seqs);
    }
    // Many rows per statement: one round trip to the database per chunk.
    let chunk_rows = match backend {
        Backend::Postgres => INSERT_ROWS_POSTGRES,
        Backend::Sqlite => INSERT_ROWS_SQLITE,
    };
    for chunk in rows.chunks(chunk_rows) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 7;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_chain (lane, seq, at, kind, ref_id, record, hash) VALUES {}",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (seq, entry, hash) in chunk {
            query = query
                .bind(lane)
                .bind(*seq)
                .bind(entry.at)
                .bind(entry.kind.as_str())
                .bind(entry.ref_id.as_str())
                .bind(entry.record.as_str())
                .bind(hash.as_str());
        }
        within(query.execute(&mut **tx)).await?;
    }
    if let Some(signer) = signer {
        let hash = hex(&hash);
        let head = signer.sign("head", lane, seq, &hash, at);
        within(
            sqlx::query("DELETE FROM audit_lane_heads WHERE lane = $1")
                .bind(lane)
                .execute(&mut **tx),
        )
        .await?;
        within(
            sqlx::query(
                "INSERT INTO audit_lane_heads (lane, seq, at, hash, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(lane)
            .bind(head.seq)
            .bind(head.at)
            .bind(&head.hash)
            .bind(&head.public_key)
            .bind(&head.signature)
            .execute(&mut **tx),
        )
        .await?;
        let previous = within(
            sqlx::query(
                "SELECT seq, at FROM audit_lane_checkpoints WHERE lane = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(lane)
            .fetch_optional(&mut **tx),
        )
        .await?;
        let (cp_seq, cp_at) = match previous {
            Some(row) => (column::<i64>(&row, "seq")?, column::<i64>(&row, "at")?),
            None => (0, i64::MIN / 2),
        };
        if seq - cp_seq >= every.records || at - cp_at >= every.millis {
            let cp = signer.sign("checkpoint", lane, seq, &hash, at);
            insert_checkpoint(tx, &cp).await?;
        }
    }
    Ok(seqs)
}

async fn insert_checkpoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    cp: &Signed,
) -> Result<(), StoreError> {
    within(
        sqlx::query(
            "INSERT INTO audit_lane_checkpoints (lane, seq, at, hash, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(cp.lane)
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
        lane: column(row, "lane")?,
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
        lane: column(row, "lane")?,
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
