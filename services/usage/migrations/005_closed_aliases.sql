-- Each alias closure (a merged-away userId whose survivor was deleted) rewritten once. Every merge or
-- deletion recomputes the account's aliases from its log; without this record each recomputation
-- rewrote every closure it found again, a scan of the account's usage records that changed nothing.
CREATE TABLE closed_aliases (
  account_id       text NOT NULL,
  user_id          text NOT NULL,
  survivor_user_id text NOT NULL,
  closed_at        timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id, survivor_user_id, closed_at)
);
