-- Counting that does not serialise creates.
--
-- The counters of (type, principal) are split into shards, one per writing
-- backend (its process id modulo 16), so that concurrent creates of one
-- principal's tokens no longer queue on one counter row until each commits.
-- Every reader already sums the rows of a key. A shard's count may go below
-- zero when a token is deleted by another backend than the one that counted
-- it; only the sum is meaningful.
--
-- Inserts and deletes are counted once per statement, from its transition
-- table: a multi-row insert of a group of creates, or a bulk delete, makes
-- one upsert per (type, principal) instead of one function call per row.
ALTER TABLE token_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE token_counts DROP CONSTRAINT token_counts_pkey;
ALTER TABLE token_counts ADD PRIMARY KEY (type, principal_null, principal, shard);

-- The shard the calling backend writes to.
CREATE FUNCTION tokend_count_shard() RETURNS smallint LANGUAGE sql STABLE AS $$
  SELECT (pg_backend_pid() % 16)::smallint
$$;

-- Still used, row by row, for the rare update of a token's type or principal.
CREATE OR REPLACE FUNCTION tokend_count_add(p_type text, p_principal text, p_delta bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s smallint := tokend_count_shard();
BEGIN
  INSERT INTO token_counts AS c (type, principal_null, principal, shard, n)
  VALUES (p_type, p_principal IS NULL, coalesce(p_principal, ''), s, p_delta)
  ON CONFLICT (type, principal_null, principal, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  -- Rows that reach zero go (there may be one per user ever seen).
  IF p_delta < 0 THEN
    DELETE FROM token_counts
    WHERE type = p_type AND principal_null = (p_principal IS NULL)
      AND principal = coalesce(p_principal, '') AND shard = s AND n = 0;
  END IF;
END;
$$;

CREATE FUNCTION tokend_tokens_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO token_counts AS c (type, principal_null, principal, shard, n)
  SELECT type, principal IS NULL, coalesce(principal, ''), tokend_count_shard(), count(*)
  FROM inserted_tokens
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (type, principal_null, principal, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END;
$$;

CREATE FUNCTION tokend_tokens_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := tokend_count_shard();
BEGIN
  INSERT INTO token_counts AS c (type, principal_null, principal, shard, n)
  SELECT type, principal IS NULL, coalesce(principal, ''), s, -count(*)
  FROM deleted_tokens
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (type, principal_null, principal, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  -- Rows that reach zero go (there may be one per user ever seen).
  DELETE FROM token_counts AS c
  USING (SELECT DISTINCT type, principal IS NULL AS principal_null,
                         coalesce(principal, '') AS principal
         FROM deleted_tokens) AS d
  WHERE c.type = d.type AND c.principal_null = d.principal_null
    AND c.principal = d.principal AND c.shard = s AND c.n = 0;
  RETURN NULL;
END;
$$;

DROP TRIGGER tokens_counts ON tokens;
CREATE TRIGGER tokens_counts_moved
AFTER UPDATE OF type, principal ON tokens
FOR EACH ROW EXECUTE FUNCTION tokend_tokens_counts_trigger();
CREATE TRIGGER tokens_counts_inserted
AFTER INSERT ON tokens REFERENCING NEW TABLE AS inserted_tokens
FOR EACH STATEMENT EXECUTE FUNCTION tokend_tokens_inserted();
CREATE TRIGGER tokens_counts_deleted
AFTER DELETE ON tokens REFERENCING OLD TABLE AS deleted_tokens
FOR EACH STATEMENT EXECUTE FUNCTION tokend_tokens_deleted();
