-- One row per end user of an account. user_id is the customer's id (null for a
-- Stripe import until an identify claims it); the partial unique index is what
-- makes two instances racing on one userId end with one user, not two.
CREATE TABLE users (
  id               uuid PRIMARY KEY,
  account_id       text NOT NULL,
  user_id          text,
  email            text,
  email_normalized text,
  name             text,
  billing_id       text,
  billing_provider text CHECK (billing_provider IN ('stripe', 'chargebee')),
  source           text NOT NULL CHECK (source IN ('identify', 'import')),
  -- Event timestamps that last wrote each field: last writer wins per field.
  name_at          timestamptz,
  email_at         timestamptz,
  billing_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((billing_id IS NULL) = (billing_provider IS NULL)),
  CHECK ((email IS NULL) = (email_normalized IS NULL))
);
CREATE UNIQUE INDEX users_account_user_id ON users (account_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX users_account_email ON users (account_id, email_normalized) WHERE email_normalized IS NOT NULL;
CREATE INDEX users_account_billing ON users (account_id, billing_id) WHERE billing_id IS NOT NULL;
CREATE INDEX users_account_id ON users (account_id, id);

-- Identify messages already applied, so a Segment retry or a replayed batch
-- changes nothing. Pruned after a retention period (see housekeeping).
CREATE TABLE processed_messages (
  account_id   text NOT NULL,
  message_id   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, message_id)
);
CREATE INDEX processed_messages_age ON processed_messages (processed_at);

-- A deleted user's userId and when: an identify older than the deletion
-- (a late retry) must not bring the user back.
CREATE TABLE deleted_users (
  account_id text NOT NULL,
  user_id    text NOT NULL,
  deleted_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id)
);

-- Problems the account can see and act on. A set: the same problem seen again
-- only moves `at` forward.
CREATE TABLE identity_issues (
  id         bigserial PRIMARY KEY,
  account_id text NOT NULL,
  user_id    text,
  kind       text NOT NULL,
  detail     text NOT NULL,
  at         timestamptz NOT NULL,
  UNIQUE NULLS NOT DISTINCT (account_id, user_id, kind, detail)
);
CREATE INDEX identity_issues_account_at ON identity_issues (account_id, at DESC);

-- Transactional outbox of kana.identity.changes: written in the same
-- transaction as the users, produced and deleted afterwards, so a crash
-- between commit and produce delays a change but never loses it.
CREATE TABLE outbox (
  seq        bigserial PRIMARY KEY,
  key        text NOT NULL,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
