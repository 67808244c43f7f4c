-- Usage service tables. Applied once by platform's migrate() with search_path = the service's schema.

-- Creates monthly range partitions of a table partitioned by event_time, from
-- the month of `start_at` for `months` months. Inserts never fail for want of a
-- partition: every table also has a DEFAULT partition. A month whose rows
-- already landed in the default partition is left there (creating its
-- partition would fail the default's constraint); those rows stay queryable.
CREATE FUNCTION ensure_month_partitions(parent regclass, start_at timestamptz, months int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz;
  name text;
BEGIN
  FOR i IN 0..months - 1 LOOP
    month_start := date_trunc('month', start_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => i);
    name := format('%s_%s', parent::text, to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM'));
    IF to_regclass(name) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)', name, parent::text,
                       month_start, month_start + interval '1 month');
      EXCEPTION WHEN check_violation THEN
        RAISE NOTICE 'rows for % are in the default partition of %; partition not created', name, parent;
      END;
    END IF;
  END LOOP;
END $$;

-- The dedup key of a stored event. A unique index of a partitioned table must
-- contain the partition key, so "once per (account, messageId)" cannot be
-- enforced on `events` alone when a retry carries another timestamp. This
-- narrow table holds the key and the event time the event was first stored
-- with; everything partitioned uses that canonical time, which makes
-- (account_id, message_id, event_time) as unique as (account_id, message_id).
CREATE TABLE message_keys (
  account_id text NOT NULL,
  message_id text NOT NULL,
  event_time timestamptz NOT NULL,
  PRIMARY KEY (account_id, message_id)
);

-- Every track event, with its outcome.
CREATE TABLE events (
  account_id    text NOT NULL,
  message_id    text NOT NULL,
  event_time    timestamptz NOT NULL,
  user_id       text NOT NULL,
  event_name    text NOT NULL,
  properties    jsonb NOT NULL,
  received_at   timestamptz NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN ('mapped', 'unmapped')),
  reason        text CHECK ((outcome = 'mapped') = (reason IS NULL)),
  rules_version integer NOT NULL,
  stored_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, message_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Usage records; `id` is usageRecordId(account, message, feature), so the
-- primary key and the id are two spellings of the same uniqueness.
CREATE TABLE usage_records (
  id          uuid NOT NULL,
  account_id  text NOT NULL,
  message_id  text NOT NULL,
  feature_id  text NOT NULL,
  user_id     text NOT NULL,
  delta       numeric NOT NULL,
  rule_id     text,
  event_time  timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, message_id, feature_id, event_time),
  UNIQUE (id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT;
CREATE INDEX usage_records_account_time ON usage_records (account_id, event_time, id);

-- Merged-away userIds and the user that absorbed them. Chains are flattened
-- on write (a → b, then b → c makes a → c), so reads need one lookup.
CREATE TABLE user_aliases (
  account_id       text NOT NULL,
  user_id          text NOT NULL,
  survivor_user_id text NOT NULL,
  merged_at        timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id)
);
CREATE INDEX user_aliases_survivor ON user_aliases (account_id, survivor_user_id);

SELECT ensure_month_partitions('events', now() - interval '1 month', 5);
SELECT ensure_month_partitions('usage_records', now() - interval '1 month', 5);
