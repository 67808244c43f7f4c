import { migratedSchema, uniqueId } from '@kana/platform/testing';
import { MIGRATIONS_DIR } from '../app';
import type { IdentifyInput } from '../domain/user';
import { PgIdentityStore } from './pg-identify-store';

/**
 * A batch locks the users it can change. Users that only share its email are
 * not among them unless an import without userId has that email too.
 */
describe('identify batches and the users of a shared email', () => {
  const db = migratedSchema('identity', MIGRATIONS_DIR, 'store', { max: 4 });
  let store: PgIdentityStore;
  let minute = 0;

  beforeAll(() => {
    store = new PgIdentityStore({ pool: db.pool });
  });

  const identify = (accountId: string, userId: string, email: string): IdentifyInput => ({
    accountId,
    userId,
    messageId: uniqueId('msg-'),
    timestamp: new Date(Date.UTC(2026, 10, 1, 10, minute++)).toISOString(),
    traits: { email, name: `name of ${userId}` },
  });

  /** Runs `work` while another transaction holds a lock on `userId`'s row; whether `work` finished before the lock went. */
  async function whileLocked(accountId: string, userId: string, work: () => Promise<unknown>): Promise<boolean> {
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM users WHERE account_id = $1 AND user_id = $2 FOR UPDATE', [accountId, userId]);
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([work().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 5_000)))]);
      clearTimeout(timer);
      await holder.query('COMMIT');
      return finished;
    } finally {
      holder.release();
    }
  }

  it('identifies a user of an email other users share without waiting for any of them', async () => {
    const account = uniqueId('acc-');
    await store.applyBatch(Array.from({ length: 20 }, (_, i) => identify(account, `teammate-${i}`, 'Team@Example.com')), 'identify:0');

    const finished = await whileLocked(account, 'teammate-3', () => store.applyBatch([identify(account, 'newcomer', 'team@example.com')], 'identify:1'));

    expect(finished).toBe(true);
    const { rows } = await db.pool.query('SELECT user_id FROM users WHERE account_id = $1 AND email_normalized = $2 ORDER BY user_id', [account, 'team@example.com']);
    expect(rows).toHaveLength(21);
  });

  it('still locks them when an import without userId has the email, and then records the conflict with their count', async () => {
    const account = uniqueId('acc-');
    await store.applyBatch([identify(account, 'teammate-1', 'ops@example.com'), identify(account, 'teammate-2', 'ops@example.com')], 'identify:0');
    await db.pool.query(
      `INSERT INTO users (id, account_id, user_id, email, email_normalized, billing_id, billing_provider, source, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, NULL, 'ops@example.com', 'ops@example.com', 'cus_Import1', 'stripe', 'import', now(), now())`,
      [account],
    );

    let pending: Promise<unknown> | undefined;
    const finished = await whileLocked(account, 'teammate-2', () => (pending = store.applyBatch([identify(account, 'newcomer', 'ops@example.com')], 'identify:1')));

    expect(finished).toBe(false);
    await pending;
    const { rows } = await db.pool.query('SELECT user_id, kind, detail FROM identity_issues WHERE account_id = $1', [account]);
    expect(rows).toEqual([{ user_id: 'newcomer', kind: 'merge_conflict', detail: expect.stringContaining('1 imported user(s) without userId and 2 other user(s)') }]);
  });
});
