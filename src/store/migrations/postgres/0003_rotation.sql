-- Rotation (API 7.3): the links between the tokens of a rotation chain, and
-- the secrets rotated away that reuse detection still recognises.
--
-- rotated_to is set on the old token while its overlap runs (its
-- expiration_date then ends the overlap); family_id is the id of the first
-- token of the chain, null for a token never rotated from another.
ALTER TABLE tokens ADD COLUMN rotated_from text COLLATE "C";
ALTER TABLE tokens ADD COLUMN rotated_to text COLLATE "C";
ALTER TABLE tokens ADD COLUMN family_id text COLLATE "C";
-- Revoking a family deletes "id = F OR family_id = F".
CREATE INDEX tokens_by_family ON tokens (family_id);

-- A secret rotated away, by its hash (never the secret itself). Written in
-- the rotation's transaction only when the rotation ends the secret's
-- validity; forgotten after forget_after (--retired-retention).
-- reuse_detected_at records that its reuse was acted on, once.
CREATE TABLE retired_secrets (
  secret_hash       text COLLATE "C" NOT NULL PRIMARY KEY,
  token_id          text COLLATE "C" NOT NULL,
  family_id         text COLLATE "C" NOT NULL,
  overlap_end       bigint NOT NULL,  -- epoch milliseconds
  forget_after      bigint NOT NULL,  -- epoch milliseconds
  reuse_detected_at bigint            -- epoch milliseconds; null: not yet
);
CREATE INDEX retired_secrets_by_forget_after ON retired_secrets (forget_after);
