-- Last used (docs/API.md, "Last used"): the newest recorded use of each
-- token, epoch milliseconds; null until the first. Written in batches by
-- TokenStore::RecordUses, never by Insert's callers.
ALTER TABLE tokens ADD COLUMN last_used_date INTEGER;

-- sort=lastUsedDate and the lastUsedBefore/lastUsedAfter filters: one index
-- with the id tie-break, as for the other sort fields, so that a page stops
-- after LIMIT rows and a deep page skips its OFFSET inside the index. SQLite
-- orders nulls first, so "never used" (lastUsedBefore's common case) is the
-- index's first range. Totals under these filters are counted over this
-- index (the counter tables know nothing of dates), as for a creation_date
-- window.
CREATE INDEX tokens_by_last_used ON tokens (last_used_date, id);
