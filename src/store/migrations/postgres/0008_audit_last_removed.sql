-- The last audit event retention removed from the head of each chain (its
-- canonical JSON and the hash it linked to). Its hash is the chain's
-- first_prev_hash, so its time proves that every removed event was older
-- than the retention period: `tokend audit verify` tells a removal by hand
-- from retention. NULL while nothing was removed.
ALTER TABLE audit_chains ADD COLUMN last_removed_body TEXT;
ALTER TABLE audit_chains ADD COLUMN last_removed_prev_hash TEXT;
