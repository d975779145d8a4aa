-- Every sort index ends with the type.
--
-- A type filter is kept a filter ("+type", see TokenFilter): a page walks
-- the index of its sort field in order and stops once it has its rows. With
-- the type in that index, each entry the walk passes over is checked there;
-- without it, each was looked up in the table to read its type. Where the
-- filtered type sorts last (names that begin with the type, tokens of one
-- type all newer than the others), page 0 passed over nearly every token:
-- 5.7 s at a million tokens for one type sorted by name, 46 ms with the type
-- in the index (docs/PERFORMANCE.md). The entries stay where they were, so a
-- create writes the same pages.
DROP INDEX tokens_by_creation;
CREATE INDEX tokens_by_creation ON tokens (creation_date, id, type);
DROP INDEX tokens_by_expiration;
CREATE INDEX tokens_by_expiration ON tokens (expiration_date, id, type);
DROP INDEX tokens_by_name;
CREATE INDEX tokens_by_name ON tokens (name, id, type);
DROP INDEX tokens_by_principal;
CREATE INDEX tokens_by_principal ON tokens (principal, id, type);
DROP INDEX tokens_by_last_used;
CREATE INDEX tokens_by_last_used ON tokens (last_used_date, id, type);
