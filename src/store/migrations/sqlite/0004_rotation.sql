-- Rotation (API 7.3): the links between the tokens of a rotation chain, and
-- the secrets rotated away that reuse detection still recognises.
--
-- rotated_to is set on the old token while its overlap runs (its
-- expiration_date then ends the overlap); family_id is the id of the first
-- token of the chain, null for a token never rotated from another.
ALTER TABLE tokens ADD COLUMN rotated_from TEXT;
ALTER TABLE tokens ADD COLUMN rotated_to TEXT;
ALTER TABLE tokens ADD COLUMN family_id TEXT;
-- Revoking a family deletes "id = F OR family_id = F".
CREATE INDEX tokens_by_family ON tokens (family_id);

-- A secret rotated away, by its hash (never the secret itself). Written in
-- the rotation's transaction only when the rotation ends the secret's
-- validity; forgotten after forget_after (--retired-retention).
-- reuse_detected_at records that its reuse was acted on, once.
CREATE TABLE retired_secrets (
  secret_hash       TEXT    NOT NULL PRIMARY KEY,
  token_id          TEXT    NOT NULL,
  family_id         TEXT    NOT NULL,
  overlap_end       INTEGER NOT NULL,
  forget_after      INTEGER NOT NULL,
  reuse_detected_at INTEGER
) WITHOUT ROWID;
CREATE INDEX retired_secrets_by_forget_after ON retired_secrets (forget_after);
