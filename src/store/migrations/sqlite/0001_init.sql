-- tokend SQLite schema, version 1.
--
-- WITHOUT ROWID: rows live in the primary-key b-tree, so a lookup by id is one
-- b-tree descent, and every secondary index entry ends with the primary key.
-- An index written "(x, id)" below is therefore exactly what SQLite stores;
-- the id is spelled out because it is the tie-break of every sort.
--
-- actions: the permission strings joined by single spaces (a permission
-- string never contains a space); '' for none.
CREATE TABLE tokens (
  id              TEXT    NOT NULL PRIMARY KEY,
  type            TEXT    NOT NULL,
  name            TEXT    NOT NULL,
  description     TEXT,
  principal       TEXT,
  creation_date   INTEGER NOT NULL,
  expiration_date INTEGER,
  actions         TEXT    NOT NULL,
  secret_hash     TEXT    NOT NULL UNIQUE
) WITHOUT ROWID;

-- Query shapes (GET /api/v2/token/query): ORDER BY <field>, id, optionally
-- under type IN (...) and/or principal IN / = (...) filters, optionally with a
-- creation_date window; page 0 must not sort the whole match set.
--
-- The default sort (creationDate) is by far the common one, and the filters
-- that matter are type (the console's tabs) and principal (visibility of every
-- non-global caller), so creation_date gets one index per leading filter:
CREATE INDEX tokens_by_creation           ON tokens (creation_date, id);
CREATE INDEX tokens_by_type_creation      ON tokens (type, creation_date, id);
CREATE INDEX tokens_by_principal_creation ON tokens (principal, creation_date, id);
-- The other sort fields get one index each, so that an unfiltered page (or a
-- filtered one the planner prefers to scan in order) stops after LIMIT rows.
-- (type, id) and (principal, id) are needed despite the two above: with
-- creation_date in between, "ORDER BY type, id" would sort every token of the
-- first type. A filtered, non-default sort either scans its sort index and
-- filters, or seeks a filter index above and sorts the (usually small) match
-- set; indexing every filter x sort pair would cost more on every insert than
-- those rare queries gain.
CREATE INDEX tokens_by_expiration ON tokens (expiration_date, id);
CREATE INDEX tokens_by_name       ON tokens (name, id);
CREATE INDEX tokens_by_type       ON tokens (type, id);
CREATE INDEX tokens_by_principal  ON tokens (principal, id);

-- Exact totals without counting rows: COUNT(*) over 250k index entries costs
-- ~13 ms, a SUM over these counters microseconds. Maintained by the triggers
-- below in the same transaction as the row change, so they are always exact.
--
-- type_counts: one row per type; answers totals with no principal filter.
CREATE TABLE type_counts (
  type TEXT    NOT NULL PRIMARY KEY,
  n    INTEGER NOT NULL
) WITHOUT ROWID;

-- token_counts: one row per (principal, type) pair; answers totals under a
-- principal filter or a caller's visibility (principal = P AND type IN ...).
-- Global tokens have a NULL principal, which a primary key cannot hold:
-- principal_null = 1 marks them (with principal ''), so that no real principal,
-- not even '', can be mistaken for "no principal". Keyed principal first,
-- because every query that reads this table has a principal equality.
CREATE TABLE token_counts (
  principal_null INTEGER NOT NULL,
  principal      TEXT    NOT NULL,
  type           TEXT    NOT NULL,
  n              INTEGER NOT NULL,
  PRIMARY KEY (principal_null, principal, type)
) WITHOUT ROWID;

CREATE TRIGGER tokens_count_insert AFTER INSERT ON tokens BEGIN
  INSERT INTO type_counts (type, n) VALUES (NEW.type, 1)
    ON CONFLICT (type) DO UPDATE SET n = n + 1;
  INSERT INTO token_counts (principal_null, principal, type, n)
    VALUES (NEW.principal IS NULL, coalesce(NEW.principal, ''), NEW.type, 1)
    ON CONFLICT (principal_null, principal, type) DO UPDATE SET n = n + 1;
END;

-- Rows of token_counts that reach zero are removed (there may be one per user);
-- type_counts keeps at most five rows, zeros included.
CREATE TRIGGER tokens_count_delete AFTER DELETE ON tokens BEGIN
  UPDATE type_counts SET n = n - 1 WHERE type = OLD.type;
  DELETE FROM token_counts
    WHERE principal_null = (OLD.principal IS NULL)
      AND principal = coalesce(OLD.principal, '') AND type = OLD.type AND n = 1;
  UPDATE token_counts SET n = n - 1
    WHERE principal_null = (OLD.principal IS NULL)
      AND principal = coalesce(OLD.principal, '') AND type = OLD.type;
END;

-- Tokens are immutable; an update of the counted columns would silently break
-- the counters, so refuse it.
CREATE TRIGGER tokens_no_recount BEFORE UPDATE OF type, principal ON tokens BEGIN
  SELECT RAISE(ABORT, 'tokens.type and tokens.principal are immutable');
END;
