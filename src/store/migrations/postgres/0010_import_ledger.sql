-- Every token an import has met (`tokend import boomerang`), stored or
-- skipped as present: an import stores none of them again, so a token
-- deleted, revoked or rotated away since an import cannot come back when
-- the same export is imported again. secret_hash is null for the tokens
-- recorded below that were gone when this table was made (their ids are
-- kept; an export names a token by both).
CREATE TABLE import_ledger (
  id          text COLLATE "C" PRIMARY KEY,
  secret_hash text COLLATE "C" UNIQUE
);

-- The tokens imported before this table existed, from their audit events.
INSERT INTO import_ledger (id, secret_hash)
SELECT e.subject_id, (SELECT t.secret_hash FROM tokens t WHERE t.id = e.subject_id)
FROM audit_events e
WHERE e.action = 'token.created' AND e.body LIKE '%"importedFrom":"boomerang"%'
ON CONFLICT DO NOTHING;
