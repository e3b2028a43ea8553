-- Limits and state for tenants (organisations and their teams), per-model limits for keys,
-- and the tokens that let someone administer one tenant.
ALTER TABLE tenants ADD COLUMN budget_nano_usd BIGINT;
ALTER TABLE tenants ADD COLUMN budget_period TEXT;
ALTER TABLE tenants ADD COLUMN rpm BIGINT;
ALTER TABLE tenants ADD COLUMN tpm BIGINT;
ALTER TABLE tenants ADD COLUMN model_limits TEXT;
ALTER TABLE tenants ADD COLUMN metadata TEXT;
ALTER TABLE tenants ADD COLUMN disabled_at BIGINT;
ALTER TABLE tenants ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tenants_updated ON tenants (updated_at);
CREATE INDEX tenants_parent ON tenants (parent_id);
ALTER TABLE api_keys ADD COLUMN model_limits TEXT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Tokens for the admin API's `tenant-admin` role: like keys, stored only as an HMAC.
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
)
