-- Last used (docs/API.md, "Last used"): the newest recorded use of each
-- token, epoch milliseconds; null until the first. Written in batches by
-- TokenStore::RecordUses with GREATEST, so that the newest use from any
-- instance wins. Adding a nullable column without a default rewrites no row.
ALTER TABLE tokens ADD COLUMN last_used_date bigint;

-- sort=lastUsedDate and the lastUsedBefore/lastUsedAfter filters, with the id
-- tie-break; NULLS FIRST like the other nullable sort columns, so that a
-- forward scan yields ASC NULLS FIRST and a backward scan DESC NULLS LAST.
-- Totals under these filters are counted over this index (token_counts knows
-- nothing of dates), as for a creation_date window.
CREATE INDEX tokens_by_last_used ON tokens (last_used_date NULLS FIRST, id);
