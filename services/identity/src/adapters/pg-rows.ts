import type { UserRecord } from '../domain/user';

// Mapping between the users table and UserRecord, shared by the stores.

export const USER_COLUMNS =
  'id, account_id, user_id, email, email_normalized, name, billing_id, billing_provider, source, name_at, email_at, billing_at, created_at, updated_at';

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
  name_at: Date | null;
  email_at: Date | null;
  billing_at: Date | null;
  created_at: Date;
  updated_at: Date;
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
    nameAt: row.name_at?.getTime() ?? null,
    emailAt: row.email_at?.getTime() ?? null,
    billingAt: row.billing_at?.getTime() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Column arrays for `unnest(...)`, in USER_COLUMNS order, with their Postgres types. */
export function toColumns(users: UserRecord[]): { values: unknown[][]; types: string[] } {
  return {
    types: ['uuid', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'timestamptz', 'timestamptz', 'timestamptz', 'timestamptz', 'timestamptz'],
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
      users.map((u) => iso(u.nameAt)),
      users.map((u) => iso(u.emailAt)),
      users.map((u) => iso(u.billingAt)),
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
