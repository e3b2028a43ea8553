-- The audit log: append-only, hash-chained. A record is metadata and hashes, never content.
-- hash = SHA-256(previous record's hash || record), hex, and the first record's previous hash is
-- 32 zero bytes. ref_id is the request id (or admin action id) the record is about.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_ref ON audit_log (ref_id);
-- Signed checkpoints: every N records or minutes, the chain hash at a record, signed (Ed25519).
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);
-- The signed head: the last record's position and hash, rewritten with every append, so that
-- removing records from the end is caught too.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
)
