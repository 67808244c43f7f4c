import { randomUUID } from 'node:crypto';
import { inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { decide } from '../domain/decide';
import { readIdentityTraits, type IdentityFields } from '../domain/traits';
import type { IdentifyInput } from '../domain/user';
import { UserView } from '../domain/user-view';
import { lostRace, wrapPgError } from './pg-errors';
import { fromRow, USER_SELECT, type UserRow } from './pg-rows';
import { deleteUsers, insertIssues, insertOutbox, insertUsers, updateUsers, type OutboxEntry } from './pg-user-writes';

export interface BatchOutcome {
  applied: number;
  skipped: number;
  /** The outbox row this batch committed (its changes, after any left over by an earlier batch of the source). */
  outbox: OutboxEntry | undefined;
}

/**
 * Applies one batch of identify events in ONE transaction:
 *   lock the users the batch can touch (by userId, email and the survivor of a
 *   merged-away userId, ordered by id, so two instances lock in the same order
 *   and cannot deadlock on them) → read deletions and aliases → decide and
 *   apply every event in order in memory → write users, issues and the outbox
 *   row of changes (taking over what `source` left unproduced) → commit.
 * A crash or a lost race anywhere rolls everything back and the batch is
 * retried. A replay after the commit writes nothing (per-field last writer
 * wins, strict on ties, see decide) and so produces no new change; the changes
 * of the committed batch are still in its outbox row, which the replay takes
 * over and produces.
 */
export class PgIdentityStore {
  constructor(private readonly deps: { pool: Pool; newId?: () => string }) {}

  /** `source` identifies the batch's producer of changes, e.g. `identify:<partition>`: one batch of it at a time. */
  async applyBatch(inputs: IdentifyInput[], source: string): Promise<BatchOutcome> {
    try {
      return await inTransaction(this.deps.pool, (client) => this.apply(client, inputs, source));
    } catch (error) {
      throw wrapPgError('apply identify batch', error);
    }
  }

  private async apply(client: PoolClient, inputs: IdentifyInput[], source: string): Promise<BatchOutcome> {
    const fields = inputs.map((input) => readIdentityTraits(input.traits));
    const view = await this.load(client, inputs, fields);
    inputs.forEach((input, i) => view.apply(input, decide(view, input, fields[i])));
    await deleteUsers(client, [...view.removed.keys()]);
    await updateUsers(client, [...view.updated].map((id) => view.get(id)!));
    await insertUsers(client, [...view.inserted].map((id) => view.get(id)!));
    await insertIssues(client, view.issues);
    const outbox = await insertOutbox(client, source, view.changes, { takeOver: true });
    return { applied: view.applied, skipped: view.skipped, outbox };
  }

  /**
   * Locks and reads the batch's users: by userId, the survivors of its
   * merged-away userIds, and every user of an email the batch carries when
   * that email has an import without userId (the only case decide() looks at
   * an email's users in: to claim or merge the import, or to flag it). An
   * email many users share and no import has (a team's address, a
   * placeholder) locks nobody else: before, each batch with it locked and read
   * every user of it (10,000 rows: ~6 ms of locking alone, each lock a write
   * to the row), and batches of those users waited on each other.
   */
  private async load(client: PoolClient, inputs: IdentifyInput[], fields: IdentityFields[]): Promise<UserView> {
    const byUser = new PairSet();
    const byEmail = new PairSet();
    inputs.forEach((input, n) => {
      byUser.add(input.accountId, input.userId);
      const email = fields[n]!.email;
      if (email) byEmail.add(input.accountId, email.normalized);
    });
    const users = await client.query<UserRow>(
      `SELECT ${USER_SELECT} FROM users WHERE id IN (
         SELECT u.id FROM users u JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON u.account_id = k.a AND u.user_id = k.v
         UNION
         SELECT u.id FROM users u JOIN unnest($3::text[], $4::text[]) AS k(a, v) ON u.account_id = k.a AND u.email_normalized = k.v
         WHERE EXISTS (SELECT 1 FROM users i WHERE i.account_id = k.a AND i.email_normalized = k.v AND i.user_id IS NULL)
         UNION
         SELECT x.survivor_id FROM user_aliases x JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON x.account_id = k.a AND x.user_id = k.v
       ) ORDER BY id FOR UPDATE`,
      [byUser.firsts, byUser.seconds, byEmail.firsts, byEmail.seconds],
    );
    // Read after the locks: under READ COMMITTED this sees what a concurrent
    // merge or delete committed on the same users before we got them.
    const gone = await client.query<{ account_id: string; user_id: string; at: Date; survivor_id: string | null }>(
      `SELECT d.account_id, d.user_id, d.deleted_at AS at, NULL::uuid AS survivor_id FROM deleted_users d
         JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON d.account_id = k.a AND d.user_id = k.v
       UNION ALL
       SELECT x.account_id, x.user_id, x.merged_at, x.survivor_id FROM user_aliases x
         JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON x.account_id = k.a AND x.user_id = k.v`,
      [byUser.firsts, byUser.seconds],
    );
    const now = new Date().toISOString();
    const locked = new Set(users.rows.map((row) => row.id));
    const aliases = gone.rows.filter((r) => r.survivor_id !== null);
    // A merge committed between our snapshot and our locks: its survivor is not locked.
    if (aliases.some((r) => !locked.has(r.survivor_id!))) throw lostRace('a user of this batch was merged meanwhile');
    return new UserView(
      {
        users: users.rows.map(fromRow),
        tombstones: gone.rows.filter((r) => r.survivor_id === null).map((r) => ({ accountId: r.account_id, userId: r.user_id, at: r.at.getTime() })),
        aliases: aliases.map((r) => ({ accountId: r.account_id, userId: r.user_id, survivorId: r.survivor_id!, at: r.at.getTime() })),
      },
      // One clock reading per batch: updatedAt is the batch's commit time, not per event.
      { newId: this.deps.newId ?? randomUUID, now: () => now },
    );
  }
}

/** Distinct (a, b) pairs as two parallel arrays, ready for `unnest($1::text[], $2::text[])`. */
class PairSet {
  readonly firsts: string[] = [];
  readonly seconds: string[] = [];
  private readonly seen = new Map<string, Set<string>>();

  add(a: string, b: string): void {
    let seconds = this.seen.get(a);
    if (!seconds) this.seen.set(a, (seconds = new Set()));
    if (seconds.has(b)) return;
    seconds.add(b);
    this.firsts.push(a);
    this.seconds.push(b);
  }
}
