-- Change polling on a sequence from the database, not on wall clocks: every write to a key or
-- a tenant takes the next value of one counter row inside its own transaction. The row's lock
-- is held until the write commits, so values are handed out in commit order, and a replica
-- that has seen value n has seen every change before it, whatever the writers' clocks say.
CREATE TABLE change_counter (id INTEGER PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO change_counter (id, value) VALUES (1, 0);
ALTER TABLE api_keys ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX api_keys_change_seq ON api_keys (change_seq);
CREATE INDEX tenants_change_seq ON tenants (change_seq)
