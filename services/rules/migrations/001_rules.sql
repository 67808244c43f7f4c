-- The rules service's own schema (search_path is set by migrate()).

-- One row per account that ever changed its rules or features. Every change
-- bumps `version` in the same transaction as the change itself, so a snapshot
-- read in one transaction is always consistent with its version; the row lock
-- also serialises changes of one account.
CREATE TABLE account_versions (
  account_id text PRIMARY KEY,
  version bigint NOT NULL
);

CREATE TABLE features (
  account_id text NOT NULL,
  id text NOT NULL,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, id)
);

CREATE TABLE rules (
  id text PRIMARY KEY,
  account_id text NOT NULL,
  feature_id text NOT NULL,
  event_name text NOT NULL,
  conditions jsonb NOT NULL,
  enabled boolean NOT NULL,
  -- the account's rules version at which this rule last changed
  version bigint NOT NULL,
  -- millisecond precision: the value round-trips through the API's ISO strings and list cursors
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- a feature in use cannot disappear under its rules
  FOREIGN KEY (account_id, feature_id) REFERENCES features (account_id, id)
);
CREATE INDEX rules_by_account ON rules (account_id, created_at, id);

-- Track events usage could not map. Partitioned by event time (monthly ranges
-- created at start, plus a default) so old months can be detached. The unique
-- key has to include the partition key; usage stores the first copy of a
-- messageId, so its timestamp (hence event_time) is fixed per message.
CREATE TABLE unmapped_events (
  account_id text NOT NULL,
  event_time timestamptz NOT NULL,
  message_id text NOT NULL,
  user_id text NOT NULL,
  event_name text NOT NULL,
  -- properties.featureId as text (null when absent): events that name their
  -- feature are mapped by it alone, never by rules
  feature_id text,
  reason text NOT NULL,
  -- the rules version usage evaluated it with; a job for version v only
  -- republishes rows evaluated with an older one
  rules_version bigint NOT NULL,
  request_id text NOT NULL,
  received_at text NOT NULL,
  event jsonb NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, event_time, message_id)
) PARTITION BY RANGE (event_time);
CREATE TABLE unmapped_events_default PARTITION OF unmapped_events DEFAULT;
CREATE INDEX unmapped_by_message ON unmapped_events (account_id, message_id);
CREATE INDEX unmapped_by_name ON unmapped_events (account_id, event_name, event_time, message_id);
CREATE INDEX unmapped_by_user ON unmapped_events (account_id, user_id, event_time, message_id);

CREATE TABLE reprocess_jobs (
  id text PRIMARY KEY,
  account_id text NOT NULL,
  rules_version bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done', 'superseded', 'failed')),
  event_names text[] NOT NULL,
  feature_ids text[] NOT NULL,
  -- keyset position of the last page Kafka acknowledged; null = from the start
  cursor_time timestamptz,
  cursor_message_id text,
  walk_done boolean NOT NULL DEFAULT false,
  -- events in scope when the job started (an estimate shown while walking)
  total bigint NOT NULL,
  -- distinct events sent (rows of reprocess_items); the exact total once walked
  published bigint NOT NULL DEFAULT 0,
  processed bigint NOT NULL DEFAULT 0,
  mapped bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX jobs_by_account ON reprocess_jobs (account_id, created_at DESC, id DESC);
CREATE INDEX jobs_walking ON reprocess_jobs (created_at) WHERE status = 'running' AND NOT walk_done;

-- One row per (job, event) the job sent, inserted before the send; `mapped`
-- is usage's verdict (null until it reports). Counting inserted rows and
-- verdicts that were still null keeps total/processed/mapped exact when a page
-- is sent twice (crash before the cursor moved) or outcomes are redelivered.
CREATE TABLE reprocess_items (
  job_id text NOT NULL REFERENCES reprocess_jobs (id) ON DELETE CASCADE,
  message_id text NOT NULL,
  mapped boolean,
  PRIMARY KEY (job_id, message_id)
);
