-- The tokens stored without a token.created event: those made before the
-- audit trail existed, or imported before imports recorded one. `tokend
-- audit verify` expects the event of every other token created within the
-- retention period, so that removing a whole chain, its record included,
-- or its last events, cannot hide the creation of a token that still exists.
CREATE TABLE audit_unrecorded_tokens (
  id TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;

INSERT INTO audit_unrecorded_tokens (id)
SELECT t.id FROM tokens t
WHERE NOT EXISTS (
  SELECT 1 FROM audit_events e WHERE e.subject_id = t.id AND e.action = 'token.created');
