-- A merge or a deletion recomputes the aliases of the users connected to it by merges, not the account's
-- (PgUserAliases): walking that component follows merges both ways, from a user to the users merged into it
-- too, which without this index read every merge of the account at each step.
CREATE INDEX user_merges_into ON user_merges (account_id, into_user_id);
