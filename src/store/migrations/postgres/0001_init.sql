-- tokend schema, PostgreSQL (15+, or a PostgreSQL-compatible engine).
--
-- Applied by the store inside one transaction holding
-- pg_advisory_xact_lock(<constant>), recorded in schema_migrations.
-- PostgreSQL features this schema and the store rely on, for anyone porting
-- to a PostgreSQL-compatible distributed engine:
--   * COLLATE "C" on text columns (strings sort by their UTF-8 bytes);
--   * PL/pgSQL row triggers (token_counts maintenance);
--   * advisory transaction locks (migrations), LISTEN/NOTIFY (revocation
--     feed), INSERT ... ON CONFLICT, data-modifying CTEs, unnest(text[]).
-- Deliberately avoided: sequences, serial columns, NULLS NOT DISTINCT,
-- partial and expression indexes.

CREATE TABLE tokens (
  id              text COLLATE "C" NOT NULL PRIMARY KEY,
  type            text COLLATE "C" NOT NULL,
  name            text COLLATE "C" NOT NULL,
  description     text COLLATE "C",
  principal       text COLLATE "C",
  creation_date   bigint NOT NULL,           -- epoch milliseconds
  expiration_date bigint,                    -- epoch milliseconds; null: never
  actions         text COLLATE "C" NOT NULL, -- permission strings, space-separated
  secret_hash     text COLLATE "C" NOT NULL UNIQUE
);

-- One index per sort field with the id tie-break. Nullable columns put nulls
-- first so that a forward scan yields ASC NULLS FIRST and a backward scan
-- DESC NULLS LAST, the documented order.
CREATE INDEX tokens_by_creation ON tokens (creation_date, id);
CREATE INDEX tokens_by_expiration ON tokens (expiration_date NULLS FIRST, id);
CREATE INDEX tokens_by_name ON tokens (name, id);
CREATE INDEX tokens_by_type ON tokens (type, id);
CREATE INDEX tokens_by_principal ON tokens (principal NULLS FIRST, id);
-- Equality filters (a caller's visibility: type and principal; the types and
-- principals parameters), then the default sort and creation_date ranges.
CREATE INDEX tokens_by_type_principal_creation ON tokens (type, principal, creation_date, id);
CREATE INDEX tokens_by_principal_creation ON tokens (principal, creation_date, id);

-- Exact totals without scanning: the number of tokens per (type, principal).
-- A null principal is stored as principal = '' with principal_null = true so
-- that the key needs no nullable column.
CREATE TABLE token_counts (
  type           text COLLATE "C" NOT NULL,
  principal_null boolean NOT NULL,
  principal      text COLLATE "C" NOT NULL,
  n              bigint NOT NULL,
  PRIMARY KEY (type, principal_null, principal)
);

CREATE FUNCTION tokend_count_add(p_type text, p_principal text, p_delta bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO token_counts AS c (type, principal_null, principal, n)
  VALUES (p_type, p_principal IS NULL, coalesce(p_principal, ''), p_delta)
  ON CONFLICT (type, principal_null, principal) DO UPDATE SET n = c.n + EXCLUDED.n;
  -- Rows that reach zero go (there may be one per user ever seen).
  IF p_delta < 0 THEN
    DELETE FROM token_counts
    WHERE type = p_type AND principal_null = (p_principal IS NULL)
      AND principal = coalesce(p_principal, '') AND n = 0;
  END IF;
END;
$$;

CREATE FUNCTION tokend_tokens_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM tokend_count_add(NEW.type, NEW.principal, 1);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM tokend_count_add(OLD.type, OLD.principal, -1);
  ELSIF NEW.type IS DISTINCT FROM OLD.type OR NEW.principal IS DISTINCT FROM OLD.principal THEN
    PERFORM tokend_count_add(OLD.type, OLD.principal, -1);
    PERFORM tokend_count_add(NEW.type, NEW.principal, 1);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_counts
AFTER INSERT OR DELETE OR UPDATE OF type, principal ON tokens
FOR EACH ROW EXECUTE FUNCTION tokend_tokens_counts_trigger();
