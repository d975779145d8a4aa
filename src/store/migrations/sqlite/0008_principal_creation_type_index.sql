-- One index for a principal's tokens by creation date, in place of two.
--
-- Each index led by the principal costs a create a page of its own (the
-- principals spread the inserts over the index), and they were the costliest
-- of the schema: 1.23x more creates without (principal, creation_date, id),
-- 1.16x without (principal, type, creation_date, id) (docs/PERFORMANCE.md).
-- With the type after the id, one index gives a principal's tokens in
-- creation order and holds the type of each: a type filter, one type or
-- several (a scoped caller's visibility), is checked in the index alone, and
-- the rows a deep page skips are never read from the table. A principal holds
-- tokens of one type in practice (a user's, a team's, a workflow's), so the
-- walk passes over few entries of other types.
DROP INDEX tokens_by_principal_type_creation;
DROP INDEX tokens_by_principal_creation;
CREATE INDEX tokens_by_principal_creation_type ON tokens (principal, creation_date, id, type);
