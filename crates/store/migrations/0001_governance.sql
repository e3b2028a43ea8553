-- Tenants: organisations and, under them, teams (parent_id).
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES tenants (id),
    created_at BIGINT NOT NULL
);

-- Virtual keys. The secret itself is never stored: only its HMAC-SHA256 under the pepper.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    tenant_id TEXT REFERENCES tenants (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    allowed_models TEXT,
    metadata TEXT,
    updated_at BIGINT NOT NULL
);

CREATE INDEX api_keys_updated ON api_keys (updated_at);

-- One row per request, append-only. request_id is unique: a row is never written twice.
CREATE TABLE usage_ledger (
    request_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    tenant_id TEXT,
    key_id TEXT,
    model TEXT NOT NULL,
    deployment TEXT,
    provider TEXT,
    jurisdiction TEXT,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_nano_usd BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    status INTEGER NOT NULL
);

CREATE INDEX usage_ledger_at ON usage_ledger (at);
CREATE INDEX usage_ledger_key ON usage_ledger (key_id, at);
CREATE INDEX usage_ledger_tenant ON usage_ledger (tenant_id, at)
