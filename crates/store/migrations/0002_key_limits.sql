-- Per-key limits: a spending budget over a period, requests and tokens per minute.
ALTER TABLE api_keys ADD COLUMN budget_nano_usd BIGINT;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT;
ALTER TABLE api_keys ADD COLUMN rpm BIGINT;
ALTER TABLE api_keys ADD COLUMN tpm BIGINT
