-- The counters are kept by the writer instead of row triggers: each write
-- transaction adds up how many tokens of each (principal, type) it inserted
-- and deleted, and writes one change per counter row just before its COMMIT,
-- so the counters stay exact in the same transaction as the rows. A
-- trigger's two upserts per row cost a third of what a create can sustain.
-- Every write to tokens goes through the store's writer, which counts it.
DROP TRIGGER tokens_count_insert;
DROP TRIGGER tokens_count_delete;
