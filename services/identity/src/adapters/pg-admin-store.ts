import { httpError, inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { identityChangeOf } from '../domain/changes';
import { fillMissing } from '../domain/user-view';
import type { UserRecord } from '../domain/user';
import { wrapPgError } from './pg-errors';
import { importCustomers, type ImportedCustomer, type ImportOutcome } from './pg-import';
import { fromRow, USER_SELECT, type UserRow } from './pg-rows';
import { deleteUsers, insertOutbox, updateUsers, type OutboxEntry } from './pg-user-writes';

export interface AttentionIssue {
  userId: string | null;
  kind: string;
  detail: string;
  at: string;
}

/**
 * Where each attention list continues: undefined from its start, false when it
 * has no more, else the last row's keyset position (its exact timestamp text,
 * so rows sharing a millisecond are neither skipped nor repeated).
 */
export interface AttentionPosition {
  missing?: [createdAt: string, id: string] | false;
  shared?: string | false;
  issues?: [at: string, id: string] | false;
}

export interface AttentionPage {
  missingBillingId: UserRecord[];
  sharedEmails: { email: string; users: UserRecord[] }[];
  issues: AttentionIssue[];
  /** Null once every list has been read to its end. */
  next: AttentionPosition | null;
}

/** The account's admin operations. Every query is scoped to the account the gateway vouched for. */
export class PgAdminStore {
  constructor(private readonly deps: { pool: Pool }) {}

  /** `userId` also finds the survivor of a merged-away userId: the user its events count toward. */
  async list(accountId: string, filter: { userId?: string; email?: string; after?: string; limit: number }): Promise<UserRecord[]> {
    const { rows } = await this.query<UserRow>(
      `SELECT ${USER_SELECT} FROM users
       WHERE account_id = $1 AND ($3::text IS NULL OR email_normalized = $3) AND ($4::uuid IS NULL OR id > $4)
         AND ($2::text IS NULL OR user_id = $2 OR id = (SELECT survivor_id FROM user_aliases WHERE account_id = $1 AND user_id = $2))
       ORDER BY id LIMIT $5`,
      [accountId, filter.userId ?? null, filter.email?.trim().toLowerCase() ?? null, filter.after ?? null, filter.limit],
    );
    return rows.map(fromRow);
  }

  async get(accountId: string, id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.query<UserRow>(`SELECT ${USER_SELECT} FROM users WHERE account_id = $1 AND id = $2`, [accountId, id]);
    return rows[0] && fromRow(rows[0]);
  }

  /**
   * The seed's two boxes, computed from the data, plus the recorded issues:
   * one page of each (`limit` rows, or email groups), continuing where `after`
   * says. Users without a billing id oldest first, groups by email, issues
   * newest first.
   */
  async attention(accountId: string, limit: number, after: AttentionPosition = {}): Promise<AttentionPage> {
    const none = { rows: [] };
    const missing =
      after.missing === false
        ? none
        : await this.query<UserRow & { position_at: string }>(
            `SELECT ${USER_SELECT}, users.created_at::text AS position_at FROM users
             WHERE account_id = $1 AND billing_id IS NULL AND ($3::timestamptz IS NULL OR (users.created_at, id) > ($3::timestamptz, $4::uuid))
             ORDER BY users.created_at, id LIMIT $2`,
            [accountId, limit + 1, after.missing?.[0] ?? null, after.missing?.[1] ?? null],
          );
    const shared =
      after.shared === false
        ? none
        : await this.query<UserRow>(
            `SELECT ${USER_SELECT} FROM users WHERE account_id = $1 AND email_normalized IN (
               SELECT email_normalized FROM users WHERE account_id = $1 AND email_normalized IS NOT NULL AND ($3::text IS NULL OR email_normalized > $3)
               GROUP BY email_normalized HAVING count(*) > 1 ORDER BY email_normalized LIMIT $2)
             ORDER BY email_normalized, users.created_at, id`,
            [accountId, limit + 1, after.shared ?? null],
          );
    // Only what still needs the account: an invalid field value stops counting
    // once the user holds a value written by a newer event (e.g. a later valid
    // billing id), a merge conflict once the email no longer matches an import
    // and another user, and any issue once its user was deleted or merged away.
    const issues =
      after.issues === false
        ? none
        : await this.query<{ id: string; user_id: string | null; kind: string; detail: string; at: Date; position_at: string }>(
            `SELECT i.id::text AS id, i.user_id, i.kind, i.detail, i.at, i.at::text AS position_at
             FROM identity_issues i JOIN users u ON u.account_id = i.account_id AND u.user_id = i.user_id
             WHERE i.account_id = $1 AND ($3::timestamptz IS NULL OR (i.at, i.id) < ($3::timestamptz, $4::bigint)) AND CASE i.kind
               WHEN 'invalid_name' THEN u.name_at IS NULL OR u.name_at < i.at
               WHEN 'invalid_email' THEN u.email_at IS NULL OR u.email_at < i.at
               WHEN 'invalid_billing_id' THEN u.billing_at IS NULL OR u.billing_at < i.at
               WHEN 'merge_conflict' THEN i.email_normalized IS NULL OR (
                 SELECT count(*) > 1 AND count(*) FILTER (WHERE s.user_id IS NULL) > 0 FROM users s
                 WHERE s.account_id = i.account_id AND s.email_normalized = i.email_normalized)
               ELSE true END
             ORDER BY i.at DESC, i.id DESC LIMIT $2`,
            [accountId, limit + 1, after.issues?.[0] ?? null, after.issues?.[1] ?? null],
          );

    const missingRows = missing.rows.slice(0, limit);
    const groups = new Map<string, UserRecord[]>();
    for (const user of shared.rows.map(fromRow)) groups.set(user.emailNormalized!, [...(groups.get(user.emailNormalized!) ?? []), user]);
    const sharedEmails = [...groups].slice(0, limit).map(([email, users]) => ({ email, users }));
    const issueRows = issues.rows.slice(0, limit);
    const lastMissing = missingRows[missingRows.length - 1];
    const lastIssue = issueRows[issueRows.length - 1];
    const next: AttentionPosition = {
      missing: missing.rows.length > limit && lastMissing ? [lastMissing.position_at, lastMissing.id] : false,
      shared: groups.size > limit ? sharedEmails[sharedEmails.length - 1]!.email : false,
      issues: issues.rows.length > limit && lastIssue ? [lastIssue.position_at, lastIssue.id] : false,
    };
    return {
      missingBillingId: missingRows.map(fromRow),
      sharedEmails,
      issues: issueRows.map((r): AttentionIssue => ({ userId: r.user_id, kind: r.kind, detail: r.detail, at: r.at.toISOString() })),
      next: next.missing === false && next.shared === false && next.issues === false ? null : next,
    };
  }

  /**
   * Merges `fromId` into `intoId`: the survivor keeps its fields and fills the
   * missing ones (userId included) from the other, which is deleted. The
   * merged-away userId (and every userId merged into it before) becomes an
   * alias of the survivor: later identifies for it update the survivor. The
   * merged change lets usage move the other's records to the survivor.
   */
  async merge(accountId: string, fromId: string, intoId: string): Promise<{ user: UserRecord; outbox: OutboxEntry | undefined }> {
    if (fromId === intoId) throw httpError(400, 'intoId must name another user than the one being merged');
    return this.transaction('merge users', async (client) => {
      const { rows } = await client.query<UserRow>(
        `SELECT ${USER_SELECT} FROM users WHERE account_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`,
        [accountId, [fromId, intoId]],
      );
      const from = rows.map(fromRow).find((u) => u.id === fromId);
      const into = rows.map(fromRow).find((u) => u.id === intoId);
      if (!from) throw httpError(404, `no user ${fromId}`);
      if (!into) throw httpError(404, `no user ${intoId} (intoId)`);
      const now = new Date().toISOString();
      fillMissing(into, from);
      into.updatedAt = now;
      // Aliases follow the survivor before `from` goes (they reference it).
      await client.query('UPDATE user_aliases SET survivor_id = $2 WHERE survivor_id = $1', [from.id, into.id]);
      // Delete first: the survivor may take the other's userId, which is unique.
      await deleteUsers(client, [from.id]);
      await updateUsers(client, [into]);
      if (from.userId !== null && from.userId !== into.userId) {
        await client.query(
          `INSERT INTO user_aliases (account_id, user_id, survivor_id, merged_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (account_id, user_id) DO UPDATE SET survivor_id = excluded.survivor_id, merged_at = excluded.merged_at`,
          [accountId, from.userId, into.id, now],
        );
        // A userId deleted before and then merged: the alias decides from now on.
        await client.query('DELETE FROM deleted_users WHERE account_id = $1 AND user_id = $2', [accountId, from.userId]);
      }
      await forgetIssues(client, accountId, from.userId === into.userId ? null : from.userId);
      const outbox = await insertOutbox(client, 'admin', [identityChangeOf('merged', into, from, now)]);
      return { user: into, outbox };
    });
  }

  /**
   * Deletes a user; a late identify older than now, for its userId or one
   * merged into it, will not bring it back. Undefined when there is no such user.
   */
  async delete(accountId: string, id: string): Promise<{ outbox: OutboxEntry | undefined } | undefined> {
    return this.transaction('delete user', async (client) => {
      const now = new Date().toISOString();
      // Its aliases become deletions too (and must go before the user they reference).
      const aliases = await client.query<{ user_id: string }>(
        'DELETE FROM user_aliases WHERE account_id = $1 AND survivor_id = $2 RETURNING user_id',
        [accountId, id],
      );
      const { rows } = await client.query<UserRow>(`DELETE FROM users WHERE account_id = $1 AND id = $2 RETURNING ${USER_SELECT}`, [accountId, id]);
      const user = rows[0] && fromRow(rows[0]);
      if (!user) return undefined;
      for (const userId of [...aliases.rows.map((r) => r.user_id), ...(user.userId === null ? [] : [user.userId])]) {
        await tombstone(client, accountId, userId, now);
      }
      await forgetIssues(client, accountId, user.userId);
      return { outbox: await insertOutbox(client, 'admin', [identityChangeOf('deleted', user, null, now)]) };
    });
  }

  async import(accountId: string, customers: ImportedCustomer[]): Promise<ImportOutcome & { outbox: OutboxEntry | undefined }> {
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

/** A user that is gone has nothing left to fix: its issues leave the attention list for good. */
async function forgetIssues(client: PoolClient, accountId: string, userId: string | null): Promise<void> {
  if (userId !== null) await client.query('DELETE FROM identity_issues WHERE account_id = $1 AND user_id = $2', [accountId, userId]);
}

async function tombstone(client: PoolClient, accountId: string, userId: string, at: string): Promise<void> {
  await client.query(
    `INSERT INTO deleted_users (account_id, user_id, deleted_at) VALUES ($1, $2, $3)
     ON CONFLICT (account_id, user_id) DO UPDATE SET deleted_at = greatest(deleted_users.deleted_at, excluded.deleted_at)`,
    [accountId, userId, at],
  );
}
