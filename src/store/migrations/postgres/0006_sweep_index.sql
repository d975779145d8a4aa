-- The rotation sweep (every few seconds) deletes the rotated tokens whose
-- overlap has ended: rotated_to set, expiration_date passed. Through
-- tokens_by_expiration it visited every expired token's row, rotated or
-- not, to check rotated_to: a store holding many expired tokens paid for
-- all of them at each sweep. Only tokens inside a rotation overlap are in
-- this index, so a sweep reads what it deletes.
CREATE INDEX tokens_rotated_by_expiration ON tokens (expiration_date)
  WHERE rotated_to IS NOT NULL;
