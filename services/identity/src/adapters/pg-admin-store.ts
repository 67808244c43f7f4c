import { httpError, inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { identityChangeOf } from '../domain/changes';
import { fillMissing } from '../domain/user-view';
import type { UserRecord } from '../domain/user';
import { wrapPgError } from './pg-errors';
import { importCustomers, type ImportedCustomer, type ImportOutcome } from './pg-import';
import { fromRow, USER_COLUMNS, type UserRow } from './pg-rows';
import { deleteUsers, insertOutbox, updateUsers } from './pg-user-writes';

export interface AttentionIssue {
  userId: string | null;
  kind: string;
  detail: string;
  at: string;
}

/** The cap of each attention list; the dashboard shows the most urgent, the API lists page through the rest. */
const ATTENTION_LIMIT = 1000;

/** The account's admin operations. Every query is scoped to the account the gateway vouched for. */
export class PgAdminStore {
  constructor(private readonly deps: { pool: Pool }) {}

  async list(accountId: string, filter: { userId?: string; email?: string; after?: string; limit: number }): Promise<UserRecord[]> {
    const { rows } = await this.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users
       WHERE account_id = $1 AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR email_normalized = $3)
         AND ($4::uuid IS NULL OR id > $4)
       ORDER BY id LIMIT $5`,
      [accountId, filter.userId ?? null, filter.email?.trim().toLowerCase() ?? null, filter.after ?? null, filter.limit],
    );
    return rows.map(fromRow);
  }

  async get(accountId: string, id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE account_id = $1 AND id = $2`, [accountId, id]);
    return rows[0] && fromRow(rows[0]);
  }

  /** The seed's two boxes, computed from the data, plus the recorded issues. */
  async attention(accountId: string) {
    const missing = await this.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE account_id = $1 AND billing_id IS NULL ORDER BY created_at, id LIMIT $2`,
      [accountId, ATTENTION_LIMIT],
    );
    const shared = await this.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE account_id = $1 AND email_normalized IN (
         SELECT email_normalized FROM users WHERE account_id = $1 AND email_normalized IS NOT NULL
         GROUP BY email_normalized HAVING count(*) > 1 ORDER BY email_normalized LIMIT $2)
       ORDER BY email_normalized, created_at, id`,
      [accountId, ATTENTION_LIMIT],
    );
    const issues = await this.query<{ user_id: string | null; kind: string; detail: string; at: Date }>(
      'SELECT user_id, kind, detail, at FROM identity_issues WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2',
      [accountId, ATTENTION_LIMIT],
    );
    const groups = new Map<string, UserRecord[]>();
    for (const user of shared.rows.map(fromRow)) groups.set(user.emailNormalized!, [...(groups.get(user.emailNormalized!) ?? []), user]);
    return {
      missingBillingId: missing.rows.map(fromRow),
      sharedEmails: [...groups].map(([email, users]) => ({ email, users })),
      issues: issues.rows.map((r): AttentionIssue => ({ userId: r.user_id, kind: r.kind, detail: r.detail, at: r.at.toISOString() })),
    };
  }

  /**
   * Merges `fromId` into `intoId`: the survivor keeps its fields and fills the
   * missing ones (userId included) from the other, which is deleted. The
   * merged change lets usage move the other's records to the survivor.
   */
  async merge(accountId: string, fromId: string, intoId: string): Promise<UserRecord> {
    if (fromId === intoId) throw httpError(400, 'intoId must name another user than the one being merged');
    return this.transaction('merge users', async (client) => {
      const { rows } = await client.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE account_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`,
        [accountId, [fromId, intoId]],
      );
      const from = rows.map(fromRow).find((u) => u.id === fromId);
      const into = rows.map(fromRow).find((u) => u.id === intoId);
      if (!from) throw httpError(404, `no user ${fromId}`);
      if (!into) throw httpError(404, `no user ${intoId} (intoId)`);
      const now = new Date().toISOString();
      fillMissing(into, from);
      into.updatedAt = now;
      // Delete first: the survivor may take the other's userId, which is unique.
      await deleteUsers(client, [from.id]);
      await updateUsers(client, [into]);
      if (from.userId !== null && from.userId !== into.userId) await tombstone(client, accountId, from.userId, now);
      await insertOutbox(client, [identityChangeOf('merged', into, from, now)]);
      return into;
    });
  }

  /** Deletes a user; a late identify older than now will not bring it back. */
  async delete(accountId: string, id: string): Promise<boolean> {
    return this.transaction('delete user', async (client) => {
      const { rows } = await client.query<UserRow>(`DELETE FROM users WHERE account_id = $1 AND id = $2 RETURNING ${USER_COLUMNS}`, [accountId, id]);
      const user = rows[0] && fromRow(rows[0]);
      if (!user) return false;
      const now = new Date().toISOString();
      if (user.userId !== null) await tombstone(client, accountId, user.userId, now);
      await insertOutbox(client, [identityChangeOf('deleted', user, null, now)]);
      return true;
    });
  }

  async import(accountId: string, customers: ImportedCustomer[]): Promise<ImportOutcome> {
    return this.transaction('import customers', (client) => importCustomers(client, accountId, customers));
  }

  private async query<R extends object>(sql: string, values: unknown[]) {
    try {
      return await this.deps.pool.query<R>(sql, values);
    } catch (error) {
      throw wrapPgError('query users', error);
    }
  }

  private async transaction<T>(doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.deps.pool, work);
    } catch (error) {
      throw wrapPgError(doing, error);
    }
  }
}

async function tombstone(client: PoolClient, accountId: string, userId: string, at: string): Promise<void> {
  await client.query(
    `INSERT INTO deleted_users (account_id, user_id, deleted_at) VALUES ($1, $2, $3)
     ON CONFLICT (account_id, user_id) DO UPDATE SET deleted_at = greatest(deleted_users.deleted_at, excluded.deleted_at)`,
    [accountId, userId, at],
  );
}
