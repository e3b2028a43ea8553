-- Audit lanes: one hash chain per writer. Each server process (and each CLI change) opens its
-- own lane, so it knows a record's position the moment the record is made and a receipt can
-- name it, and replicas append without waiting on each other. A lane's first record is its
-- opening, and the register lists every lane opened, so a removed lane leaves a gap or an empty
-- registered lane. The records of 0005's single chain become lane 0 (no opening record).
CREATE TABLE audit_lanes (
    lane BIGINT PRIMARY KEY,
    opened_at BIGINT NOT NULL,
    opened_by TEXT NOT NULL
);
CREATE TABLE audit_chain (
    lane BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (lane, seq)
);
INSERT INTO audit_chain (lane, seq, at, kind, ref_id, record, hash)
    SELECT 0, seq, at, kind, ref_id, record, hash FROM audit_log;
CREATE TABLE audit_lane_checkpoints (
    lane BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (lane, seq)
);
INSERT INTO audit_lane_checkpoints (lane, seq, at, hash, public_key, signature)
    SELECT 0, seq, at, hash, public_key, signature FROM audit_checkpoints;
CREATE TABLE audit_lane_heads (
    lane BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);
INSERT INTO audit_lane_heads (lane, seq, at, hash, public_key, signature)
    SELECT 0, seq, at, hash, public_key, signature FROM audit_head;
DROP TABLE audit_log;
DROP TABLE audit_checkpoints;
DROP TABLE audit_head
