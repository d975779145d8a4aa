-- One principal's tokens of one type, newest or oldest first: the shape of
-- a scoped caller's query (visibility is one type and one principal) and of
-- the console's team and user pages. With the type inside the index, the
-- rows a deep page skips (OFFSET) are passed over in the index alone instead
-- of each being looked up in the table to check its type.
CREATE INDEX tokens_by_principal_type_creation ON tokens (principal, type, creation_date, id);
