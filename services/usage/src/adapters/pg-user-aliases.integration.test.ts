import { migratedSchema, uniqueId } from '@kana/platform/testing';
import type { IdentityChange } from '@kana/schemas';
import { MIGRATIONS_DIR } from '../app';
import { resolveAliases, type Deletion, type Merge } from '../domain/aliases';
import { PgUserAliases } from './pg-user-aliases';

/**
 * Each batch recomputes only the aliases of the users it is connected to by
 * merges. Whatever batches identity's merges and deletions come in, and in
 * whatever order, the account ends with the aliases its whole history gives.
 */
describe('aliases from merges and deletions in batches', () => {
  const db = migratedSchema('usage', MIGRATIONS_DIR, 'aliases');

  /** A small deterministic generator, so a failure can be replayed. */
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  it.each(Array.from({ length: 12 }, (_, seed) => seed + 1))('ends with the aliases of the whole history (seed %i)', async (seed) => {
    const next = random(seed);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const account = uniqueId('acc_aliases');
    const users = Array.from({ length: 14 }, (_, i) => `user-${i}`);
    const at = (ms: number) => new Date(Date.UTC(2026, 10, 1) + ms * 1000).toISOString();
    const merges: Merge[] = [];
    const deletions: Deletion[] = [];
    const changes: IdentityChange[] = [];
    for (let t = 1; t <= 30; t++) {
      if (next() < 0.2) {
        const user = pick(users);
        deletions.push({ user, at: Date.parse(at(t)) });
        changes.push({ schemaVersion: 1, accountId: account, kind: 'deleted', user: { id: `k-${user}`, userId: user }, from: null, at: at(t) });
      } else {
        const from = pick(users);
        const into = pick(users.filter((user) => user !== from));
        merges.push({ from, into, at: Date.parse(at(t)) });
        changes.push({ schemaVersion: 1, accountId: account, kind: 'merged', user: { id: `k-${into}`, userId: into }, from: { id: `k-${from}`, userId: from }, at: at(t) });
      }
    }
    // Cut into batches of 1-5 changes and applied in a shuffled order, some of them twice (redelivered).
    const batches: IdentityChange[][] = [];
    for (let i = 0; i < changes.length; ) {
      const size = 1 + Math.floor(next() * 5);
      batches.push(changes.slice(i, i + size));
      i += size;
    }
    const arrival = [...batches, ...batches.filter(() => next() < 0.2)].sort(() => next() - 0.5);
    const aliases = new PgUserAliases({ pool: db.pool });
    for (const batch of arrival) await aliases.applyChanges(batch);

    const expected = [...resolveAliases(merges, deletions)];
    const { rows: open } = await db.pool.query<{ user_id: string; survivor_user_id: string; merged_at: Date }>(
      'SELECT user_id, survivor_user_id, merged_at FROM user_aliases WHERE account_id = $1 ORDER BY user_id',
      [account],
    );
    expect(open.map((row) => [row.user_id, row.survivor_user_id, row.merged_at.getTime()])).toEqual(
      expected
        .filter(([, alias]) => alias.closedAt === undefined)
        .map(([user, alias]) => [user, alias.survivor, alias.mergedAt])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    // Every closure the history ends with was recorded (rewritten once); earlier ones may be there too.
    const { rows: closed } = await db.pool.query<{ user_id: string; survivor_user_id: string }>(
      'SELECT user_id, survivor_user_id FROM closed_aliases WHERE account_id = $1',
      [account],
    );
    for (const [user, alias] of expected.filter(([, alias]) => alias.closedAt !== undefined)) {
      expect(closed).toContainEqual({ user_id: user, survivor_user_id: alias.survivor });
    }
  });
});
