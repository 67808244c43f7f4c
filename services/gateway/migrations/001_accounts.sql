-- Accounts (Kana customers) and their API keys. A key is a 32-byte random
-- token shown once; only its sha256 is stored, so a leak of this table does
-- not leak usable keys. Revocation is a timestamp, not a delete, so support
-- can still tell which account a revoked key belonged to.
CREATE TABLE accounts (
  id         text PRIMARY KEY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  demo       boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- At most one demo account, so concurrent `kana accounts demo` runs agree on it.
CREATE UNIQUE INDEX accounts_one_demo ON accounts (demo) WHERE demo;

CREATE TABLE api_keys (
  key_hash   text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  account_id text NOT NULL REFERENCES accounts (id),
  hint       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

CREATE INDEX api_keys_account ON api_keys (account_id);
