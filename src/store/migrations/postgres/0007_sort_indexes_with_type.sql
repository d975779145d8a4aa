-- Every sort index ends with the type (as SQLite's migration 9).
--
-- A page under a type filter walks the index of its sort field in order and
-- stops once it has its rows. With the type in that index, a filter on one
-- type is an index condition, checked on each entry the walk passes over
-- instead of on its table row; several types are checked on the entry when
-- the page's ids come from the index alone (an index-only scan). Where the
-- filtered type sorts last (names that begin with the type), page 0 passed
-- over most tokens' rows (docs/PERFORMANCE.md).
DROP INDEX tokens_by_creation;
CREATE INDEX tokens_by_creation ON tokens (creation_date, id, type);
DROP INDEX tokens_by_expiration;
CREATE INDEX tokens_by_expiration ON tokens (expiration_date NULLS FIRST, id, type);
DROP INDEX tokens_by_name;
CREATE INDEX tokens_by_name ON tokens (name, id, type);
DROP INDEX tokens_by_principal;
CREATE INDEX tokens_by_principal ON tokens (principal NULLS FIRST, id, type);
DROP INDEX tokens_by_last_used;
CREATE INDEX tokens_by_last_used ON tokens (last_used_date NULLS FIRST, id, type);
