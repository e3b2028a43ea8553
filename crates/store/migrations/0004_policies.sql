-- Sovereignty policies (named in the config) attached to keys and tenants, comma-separated.
ALTER TABLE api_keys ADD COLUMN policies TEXT;
ALTER TABLE tenants ADD COLUMN policies TEXT
