import { uniqueId } from '@kana/platform/testing';
import type { IdentifyMessage } from '@kana/schemas';
import { anIdentifyMessage, IdentityHarness } from '../test/harness';

// Thousands of identify events for overlapping users (shared emails, so the
// instances contend for the same rows), shuffled so arrival order is not
// timestamp order, with Segment-style duplicates, over two instances of one
// consumer group that rebalance while the events are flowing.

jest.setTimeout(180_000);
const h = new IdentityHarness();
afterAll(() => h.stop(), 60_000);

const USERS = 300;
const EVENTS_PER_USER = 10;
const EMAILS = 40;

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

it('ends with exactly one user per userId holding the newest data', async () => {
  const account = uniqueId('acc-');
  const events: IdentifyMessage[] = [];
  const newest = new Map<string, IdentifyMessage>();
  for (let u = 0; u < USERS; u++) {
    const minutes = shuffle([...Array(EVENTS_PER_USER).keys()]);
    for (const minute of minutes) {
      const timestamp = new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString();
      const event = anIdentifyMessage({
        accountId: account, userId: `user-${u}`, timestamp,
        traits: { name: `name-${u}-${minute}`, email: `shared-${Math.floor(Math.random() * EMAILS)}@x.io`, billingUserId: `cus_Billing${u}x${minute}` },
      });
      events.push(event);
      if (minute === EVENTS_PER_USER - 1) newest.set(`user-${u}`, event);
    }
  }
  // A Segment retry re-sends a messageId after the original (same key, so same
  // partition, so it is consumed after it); a changed body makes an applied duplicate visible.
  const duplicates = events.filter((_, i) => i % 10 === 0).map((e) => ({ ...e, requestId: 'retry', event: { ...e.event, traits: { name: 'DUPLICATE' } } }));
  const all = [...shuffle(events), ...shuffle(duplicates)];

  await h.startInstance();
  await h.publish(all.slice(0, all.length / 2));
  await h.startInstance(); // joins the group: a rebalance with batches in flight
  await h.publish(all.slice(all.length / 2));

  await h.drained(150_000);
  const rows = await h.sql<{ user_id: string; name: string; email: string; billing_id: string }>(
    'SELECT user_id, name, email, billing_id FROM users WHERE account_id = $1', [account],
  );
  expect(rows).toHaveLength(USERS);
  const wrong = rows.filter((row) => {
    const traits = newest.get(row.user_id)!.event.traits;
    return row.name !== traits.name || row.email !== traits.email || row.billing_id !== traits.billingUserId;
  });
  expect(wrong).toEqual([]);
  expect(new Set(rows.map((r) => r.user_id)).size).toBe(USERS);
});
