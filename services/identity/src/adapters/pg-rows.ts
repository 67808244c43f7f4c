import type { UserRecord } from '../domain/user';

// Mapping between the users table and UserRecord, shared by the stores.

export const USER_COLUMNS =
  'id, account_id, user_id, email, email_normalized, name, billing_id, billing_provider, source, name_at, email_at, billing_at, created_at, updated_at';

// Timestamps cross the wire as numbers and ISO text, not as Dates: building
// and parsing five Dates per user was a visible share of a batch's time.
const FIELD_AT = new Set(['name_at', 'email_at', 'billing_at']);
const STAMPS = new Set(['created_at', 'updated_at']);

/** USER_COLUMNS as a select list that reads into UserRow: `*_at` as epoch ms, created/updated as ISO-8601 UTC text. */
export const USER_SELECT = USER_COLUMNS.split(', ')
  .map((column) => {
    if (FIELD_AT.has(column)) return `floor(extract(epoch from ${column}) * 1000)::float8 AS ${column}`;
    if (STAMPS.has(column)) return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`;
    return column;
  })
  .join(', ');

/** The value of `column` from a row `v` of unnest(toColumns(...)), as the users table stores it. */
export function userValue(column: string): string {
  return FIELD_AT.has(column) ? `to_timestamp(v.${column} / 1000)` : `v.${column}`;
}

export interface UserRow {
  id: string;
  account_id: string;
  user_id: string | null;
  email: string | null;
  email_normalized: string | null;
  name: string | null;
  billing_id: string | null;
  billing_provider: UserRecord['billingProvider'];
  source: UserRecord['source'];
  name_at: number | null;
  email_at: number | null;
  billing_at: number | null;
  created_at: string;
  updated_at: string;
}

export function fromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    email: row.email,
    emailNormalized: row.email_normalized,
    name: row.name,
    billingId: row.billing_id,
    billingProvider: row.billing_provider,
    source: row.source,
    nameAt: row.name_at,
    emailAt: row.email_at,
    billingAt: row.billing_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Column arrays for `unnest(...)`, in USER_COLUMNS order, with their Postgres types (`*_at` in epoch ms: see userValue). */
export function toColumns(users: UserRecord[]): { values: unknown[][]; types: string[] } {
  return {
    types: ['uuid', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'float8', 'float8', 'float8', 'timestamptz', 'timestamptz'],
    values: [
      users.map((u) => u.id),
      users.map((u) => u.accountId),
      users.map((u) => u.userId),
      users.map((u) => u.email),
      users.map((u) => u.emailNormalized),
      users.map((u) => u.name),
      users.map((u) => u.billingId),
      users.map((u) => u.billingProvider),
      users.map((u) => u.source),
      users.map((u) => u.nameAt),
      users.map((u) => u.emailAt),
      users.map((u) => u.billingAt),
      users.map((u) => u.createdAt),
      users.map((u) => u.updatedAt),
    ],
  };
}

/** The public User shape of API.md. */
export function toApiUser(user: UserRecord) {
  return {
    id: user.id,
    userId: user.userId,
    email: user.email,
    name: user.name,
    billingId: user.billingId,
    billingProvider: user.billingProvider,
    source: user.source,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}
export type ApiUser = ReturnType<typeof toApiUser>;
