import { expectedOf, featuresOf, recordKey } from './oracle';
import { generate, type Event } from './workload';

// The oracle decides what "lost" and "double counted" mean for the chaos run:
// if it were wrong, the run would pass or fail for the wrong reasons.

const track = (messageId: string, event: string, properties: Record<string, unknown>, userId = 'u1'): Event => ({
  type: 'track', messageId, userId, event, timestamp: '2026-11-25T00:00:00.000Z', properties,
});
const identify = (messageId: string, timestamp: string, traits: Record<string, unknown>): Event => ({
  type: 'identify', messageId, userId: 'u1', timestamp, traits,
});

describe('chaos workload', () => {
  const workload = generate({ seed: 3, events: 5_000, accounts: 2, usersPerAccount: 50, now: Date.parse('2026-11-28T00:00:00Z') });
  const all = workload.requests.flatMap((r) => r.events);

  it('is the same for the same seed, so a failing run can be replayed', () => {
    expect(generate({ seed: 3, events: 5_000, accounts: 2, usersPerAccount: 50, now: Date.parse('2026-11-28T00:00:00Z') }).requests).toEqual(workload.requests);
  });

  it('delivers about 10% of messageIds twice, some within one batch', () => {
    expect(new Set(all.map((e) => e.messageId)).size).toBe(5_000);
    expect(workload.deliveries / workload.distinct).toBeGreaterThan(1.08);
    expect(workload.deliveries / workload.distinct).toBeLessThan(1.12);
    const sameBatch = workload.requests.filter((r) => new Set(r.events.map((e) => e.messageId)).size < r.events.length);
    expect(sameBatch.length).toBeGreaterThan(0);
  });

  it('sends some identifies after a newer one of the same user', () => {
    const newest = new Map<string, number>();
    let late = 0;
    for (const request of workload.requests) {
      for (const e of request.events.filter((x) => x.type === 'identify')) {
        const key = `${request.account}/${e.userId}`;
        const at = Date.parse(e.timestamp);
        if (at < (newest.get(key) ?? 0)) late += 1;
        newest.set(key, Math.max(at, newest.get(key) ?? 0));
      }
    }
    expect(late).toBeGreaterThan(20);
  });
});

describe('chaos oracle', () => {
  it('maps by featureId when the feature exists at the end, else by rules, else unmapped', () => {
    expect(featuresOf(track('m', 'X', { featureId: 'messages' }))).toEqual(['messages']);
    expect(featuresOf(track('m', 'X', { featureId: 'late-feature' }))).toEqual(['late-feature']);
    expect(featuresOf(track('m', 'Seat Added', { featureId: 'ghost' }))).toEqual([]);
    expect(featuresOf(track('m', 'API Call', { tier: 'premium' })).sort()).toEqual(['api-calls', 'premium-calls']);
    expect(featuresOf(track('m', 'API Call', { tier: 'pro' }))).toEqual(['api-calls']);
    expect(featuresOf(track('m', 'Report Exported', {}))).toEqual(['reports']);
    expect(featuresOf(track('m', 'Page Printed', {}))).toEqual([]);
  });

  it('counts each messageId once with its delta, and lists the unmapped ones', () => {
    const seat = track('m1', 'Seat Added', { delta: '4' });
    const expected = expectedOf([
      { account: 0, event: seat },
      { account: 0, event: seat },
      { account: 0, event: track('m2', 'Seat Added', { delta: 2 }) },
      { account: 1, event: track('m1', 'Seat Added', {}) },
      { account: 0, event: track('m3', 'Page Printed', {}) },
    ]);
    expect(expected.totals.get(0)?.get('u1|seats')).toBe(6);
    expect(expected.totals.get(1)?.get('u1|seats')).toBe(1);
    expect(expected.records.get(recordKey(0, 'm1', 'seats'))?.delta).toBe(4);
    expect(expected.records.size).toBe(3);
    expect([...(expected.unmapped.get(0) ?? [])]).toEqual(['m3']);
  });

  it('keeps the newest value of each field, whatever the order of arrival', () => {
    const expected = expectedOf([
      { account: 0, event: identify('i2', '2026-11-25T00:00:02.000Z', { name: 'New', email: 'new@x.example' }) },
      { account: 0, event: identify('i1', '2026-11-25T00:00:01.000Z', { name: 'Old', billingUserId: 'cus_AAAAAAAAAAAAAA' }) },
    ]);
    expect(expected.users.get(0)?.get('u1')).toEqual({ name: 'New', email: 'new@x.example', billingId: 'cus_AAAAAAAAAAAAAA' });
  });
});
