-- 1. A userId merged away by the account (POST /v1/users/:id/merge) is an
-- alias of the survivor: an identify for it newer than the merge updates the
-- survivor instead of creating a new user; an older one (a late retry of what
-- the merge already decided) changes nothing. A survivor that is merged on
-- takes its aliases along; a deleted one turns them into deleted_users.
CREATE TABLE user_aliases (
  account_id  text NOT NULL,
  user_id     text NOT NULL,
  survivor_id uuid NOT NULL REFERENCES users (id),
  merged_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id)
);
CREATE INDEX user_aliases_survivor ON user_aliases (survivor_id);

-- 2. The outbox holds one row per transaction (a batch's changes as one JSON
-- array) instead of one row per change: one insert and one delete per batch.
-- `source` names who produces it: `identify:<partition>` rows are taken over by
-- the next batch of the same partition (the replay after a crash), in order,
-- so changes of one key are never produced out of order; `admin` rows are
-- produced by the request and, after a crash, by the periodic sweep.
CREATE TABLE outbox_batches (
  seq        bigserial PRIMARY KEY,
  source     text NOT NULL,
  changes    json NOT NULL,  -- json, not jsonb: written once, read back only after a crash
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_batches_source ON outbox_batches (source, seq);
-- Changes not yet produced when this migration runs are kept, in order.
INSERT INTO outbox_batches (source, changes) SELECT 'admin', json_agg(payload ORDER BY seq) FROM outbox HAVING count(*) > 0;
DROP TABLE outbox;

-- 3. Duplicates are absorbed by per-field last-writer-wins, strict on ties (a
-- replay carries the timestamp that already wrote the field, so it writes
-- nothing): the table of processed messageIds is no longer needed.
DROP TABLE processed_messages;

-- 4. A merge conflict is about an email; kept so that the attention list can
-- drop the conflict once the account resolved it (merged or deleted the import).
ALTER TABLE identity_issues ADD COLUMN email_normalized text;
