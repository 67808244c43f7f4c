import { randomUUID } from 'node:crypto';
import { inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { decide } from '../domain/decide';
import { readIdentityTraits } from '../domain/traits';
import type { IdentifyInput } from '../domain/user';
import { UserView } from '../domain/user-view';
import { lostRace, wrapPgError } from './pg-errors';
import { fromRow, USER_COLUMNS, type UserRow } from './pg-rows';
import { deleteUsers, insertIssues, insertOutbox, insertUsers, updateUsers } from './pg-user-writes';

export interface BatchOutcome {
  applied: number;
  duplicates: number;
  changes: number;
}

/**
 * Applies one batch of identify events in ONE transaction:
 *   lock the users the batch can touch (by userId and email, ordered by id, so
 *   two instances lock in the same order and cannot deadlock on them) → read
 *   which messageIds were already applied and which userIds were deleted →
 *   decide and apply every event in order in memory → write users, issues,
 *   processed messageIds and the outbox of changes → commit.
 * A crash or a lost race anywhere rolls everything back and the batch is
 * retried; the processed messageIds make a retry after commit a no-op, and the
 * outbox keeps the changes of a committed batch until they are produced.
 */
export class PgIdentityStore {
  constructor(private readonly deps: { pool: Pool; newId?: () => string }) {}

  async applyBatch(inputs: IdentifyInput[]): Promise<BatchOutcome> {
    if (inputs.length === 0) return { applied: 0, duplicates: 0, changes: 0 };
    try {
      return await inTransaction(this.deps.pool, (client) => this.apply(client, inputs));
    } catch (error) {
      throw wrapPgError('apply identify batch', error);
    }
  }

  private async apply(client: PoolClient, inputs: IdentifyInput[]): Promise<BatchOutcome> {
    const view = await this.load(client, inputs);
    let duplicates = 0;
    for (const input of inputs) {
      const decision = decide(view, input);
      if (decision.action === 'skip') duplicates++;
      view.apply(input, decision);
    }
    await deleteUsers(client, [...view.removed.keys()]);
    await updateUsers(client, [...view.updated].map((id) => view.get(id)!));
    await insertUsers(client, [...view.inserted].map((id) => view.get(id)!));
    await insertIssues(client, view.issues);
    if (view.messages.length > 0) {
      const result = await client.query(
        `INSERT INTO processed_messages (account_id, message_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
        [view.messages.map((m) => m.accountId), view.messages.map((m) => m.messageId)],
      );
      // Another instance applied one of these messages while we worked (a rebalance): start over and skip it.
      if (result.rowCount !== view.messages.length) throw lostRace('a message of this batch was applied by another instance');
    }
    await insertOutbox(client, view.changes);
    return { applied: view.messages.length, duplicates, changes: view.changes.length };
  }

  private async load(client: PoolClient, inputs: IdentifyInput[]): Promise<UserView> {
    const byUser = unique(inputs.map((i) => [i.accountId, i.userId]));
    const byEmail = unique(
      inputs.flatMap((i) => {
        const email = readIdentityTraits(i.traits).email?.normalized;
        return email === undefined ? [] : [[i.accountId, email]];
      }),
    );
    const users = await client.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE id IN (
         SELECT u.id FROM users u JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON u.account_id = k.a AND u.user_id = k.v
         UNION
         SELECT u.id FROM users u JOIN unnest($3::text[], $4::text[]) AS k(a, v) ON u.account_id = k.a AND u.email_normalized = k.v
       ) ORDER BY id FOR UPDATE`,
      [byUser.map((p) => p[0]), byUser.map((p) => p[1]), byEmail.map((p) => p[0]), byEmail.map((p) => p[1])],
    );
    // Read after the locks: under READ COMMITTED this sees what a concurrent
    // instance committed on the same users before we got them.
    const processed = await client.query<{ account_id: string; message_id: string }>(
      `SELECT p.account_id, p.message_id FROM processed_messages p
       JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON p.account_id = k.a AND p.message_id = k.v`,
      [inputs.map((i) => i.accountId), inputs.map((i) => i.messageId)],
    );
    const tombstones = await client.query<{ account_id: string; user_id: string; deleted_at: Date }>(
      `SELECT d.account_id, d.user_id, d.deleted_at FROM deleted_users d
       JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON d.account_id = k.a AND d.user_id = k.v`,
      [byUser.map((p) => p[0]), byUser.map((p) => p[1])],
    );
    return new UserView(
      {
        users: users.rows.map(fromRow),
        processed: processed.rows.map((r) => ({ accountId: r.account_id, messageId: r.message_id })),
        tombstones: tombstones.rows.map((r) => ({ accountId: r.account_id, userId: r.user_id, at: r.deleted_at.getTime() })),
      },
      { newId: this.deps.newId ?? randomUUID, now: () => new Date().toISOString() },
    );
  }
}

function unique(pairs: string[][]): [string, string][] {
  const seen = new Map<string, [string, string]>();
  for (const [a, b] of pairs) seen.set(`${a}\u0000${b}`, [a!, b!]);
  return [...seen.values()];
}
