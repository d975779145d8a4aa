-- The rotation sweep (every few seconds) deletes the rotated tokens whose
-- overlap has ended: rotated_to set, expiration_date passed. Through
-- tokens_by_expiration it read the row of every expired token, rotated or
-- not, to check rotated_to: a store holding many expired tokens kept its
-- writer reading them at each sweep. Only tokens inside a rotation overlap
-- are in this index, so a sweep reads what it deletes.
CREATE INDEX tokens_rotated_by_expiration ON tokens (expiration_date)
  WHERE rotated_to IS NOT NULL;
