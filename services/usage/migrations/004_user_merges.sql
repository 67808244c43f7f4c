-- Every merge identity announced, as it announced it. user_aliases (each merged-away userId and the user
-- its usage now counts for) is computed from this log, so it no longer depends on the order the merges
-- arrive in: a merge's change is keyed by its survivor, so A->B and a later B->C can reach usage on two
-- partitions in either order, and applied in arrival order the second undid the first (A's and B's usage
-- left C). Rows already in user_aliases are flattened merges; as log rows they resolve to the same table.
CREATE TABLE user_merges (
  account_id   text NOT NULL,
  from_user_id text NOT NULL,
  into_user_id text NOT NULL,
  merged_at    timestamptz NOT NULL,
  PRIMARY KEY (account_id, from_user_id, into_user_id, merged_at)
);

INSERT INTO user_merges (account_id, from_user_id, into_user_id, merged_at)
SELECT account_id, user_id, survivor_user_id, merged_at FROM user_aliases;

-- Every deletion of a user with a userId: deleting a survivor closes the aliases into it (its merged-away
-- userIds count for themselves again; identity creates them anew on their next identify).
CREATE TABLE user_deletions (
  account_id text NOT NULL,
  user_id    text NOT NULL,
  deleted_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id, deleted_at)
);
