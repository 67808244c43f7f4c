// The chaos run's workload: a pure function of (seed, size), so a failing run
// can be replayed event for event. It is what Segment would send for several
// accounts: identifies (some older than what was already sent, so last writer
// wins is exercised) and tracks over many users, 10% of messageIds delivered
// twice (in the same batch, or much later as Segment's retries do), and event
// names and feature ids that only get a rule or a feature midway, so their
// earlier events count only through retroactive reprocessing.

export type Event = Record<string, unknown> & { type: 'identify' | 'track'; messageId: string; userId: string; timestamp: string };

export interface Request {
  account: number;
  /** `batch` goes to /v1/batch; a single track or identify to its own route. */
  route: '/v1/batch' | '/v1/track' | '/v1/identify';
  events: Event[];
}

export interface RuleSpec {
  featureId: string;
  eventName: string;
  conditions: { property: string; operator: string; value: unknown }[];
}

/** Set up before the load, in every account. */
export const FEATURES = ['messages', 'seats', 'api-calls', 'premium-calls', 'reports'];
export const RULES: RuleSpec[] = [
  { featureId: 'seats', eventName: 'Seat Added', conditions: [] },
  { featureId: 'api-calls', eventName: 'API Call', conditions: [] },
  { featureId: 'premium-calls', eventName: 'API Call', conditions: [{ property: 'tier', operator: 'eq', value: 'premium' }] },
];
/** Created once the load is `MIDWAY` through: earlier events of these count only by reprocessing. */
export const MIDWAY_RULES: RuleSpec[] = [{ featureId: 'reports', eventName: 'Report Exported', conditions: [] }];
export const MIDWAY_FEATURES = ['late-feature'];
export const MIDWAY = 0.4;

export interface WorkloadOptions {
  seed: number;
  events: number;
  accounts: number;
  usersPerAccount: number;
  /** Event times are a few days before this (default: now), inside the usage partitions. */
  now?: number;
}

export interface Workload {
  options: WorkloadOptions;
  requests: Request[];
  /** Distinct messageIds (what an exact count is about). */
  distinct: number;
  /** Deliveries including the duplicates. */
  deliveries: number;
}

/** mulberry32: small, fast, good enough to shuffle a workload reproducibly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function generate(options: WorkloadOptions): Workload {
  const random = rng(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]) => items[int(items.length)]!;
  const token = (n: number) => Array.from({ length: n }, () => ALNUM[int(ALNUM.length)]).join('');
  // Event times: a few days back (inside the usage partitions), 10 ms apart in generation order.
  const base = (options.now ?? Date.now()) - 3 * 86_400_000;
  const usedTimes = new Set<string>();
  const timeAt = (slot: number, user: string) => {
    let ms = base + slot * 10;
    while (usedTimes.has(`${user}@${ms}`)) ms += 1; // unique per user: ties would make "last writer" ambiguous
    usedTimes.add(`${user}@${ms}`);
    return new Date(ms).toISOString();
  };

  let serial = 0;
  const newEvent = (account: number): Event => {
    const slot = serial++;
    const userId = `u${int(options.usersPerAccount)}`;
    const key = `a${account}/${userId}`;
    const messageId = `chaos-${options.seed}-${slot}`;
    if (random() < 0.25) {
      // 5% of identifies are older than everything sent so far for the user (a late delivery).
      const stale = random() < 0.2 ? slot - 1 - int(Math.min(slot, 5000)) : slot;
      const traits: Record<string, unknown> = {};
      if (random() < 0.7) traits.name = `Name ${token(6)}`;
      if (random() < 0.5) traits.email = `${userId}.${token(4).toLowerCase()}@a${account}.chaos.example`;
      if (random() < 0.4) traits.billingUserId = `cus_${token(14)}`;
      if (Object.keys(traits).length === 0) traits.name = `Name ${token(6)}`;
      return { type: 'identify', userId, messageId, timestamp: timeAt(stale, key), traits };
    }
    const roll = random();
    const properties: Record<string, unknown> = {};
    let event: string;
    if (roll < 0.25) (event = 'Message Sent'), (properties.featureId = 'messages');
    else if (roll < 0.3) (event = 'Beta Used'), (properties.featureId = 'late-feature'); // feature created midway
    else if (roll < 0.33) (event = 'Ghost Used'), (properties.featureId = 'ghost'); // never a feature: unmapped
    else if (roll < 0.5) event = 'Seat Added';
    else if (roll < 0.7) (event = 'API Call'), (properties.tier = pick(['free', 'pro', 'premium']));
    else if (roll < 0.85) event = 'Report Exported'; // rule created midway
    else event = 'Page Printed'; // never a rule: unmapped
    const d = random();
    if (d < 0.2) properties.delta = 1 + int(10);
    else if (d < 0.25) properties.delta = String(1 + int(5)); // a numeric string is an amount too
    return { type: 'track', userId, messageId, event, timestamp: timeAt(slot, key), properties };
  };

  const requests: Request[] = [];
  const later: { account: number; event: Event; due: number }[] = [];
  let deliveries = 0;
  while (serial < options.events) {
    const account = int(options.accounts);
    const batched = random() < 0.9;
    const size = batched ? 50 + int(51) : 1;
    const events: Event[] = [];
    for (let i = 0; i < size && serial < options.events; i++) {
      const event = newEvent(account);
      events.push(event);
      const dup = random();
      // 10% of messageIds twice: half within this request, half ~1k to 20k events later.
      if (dup < 0.05 && batched) events.push(event);
      else if (dup < 0.1) later.push({ account, event, due: serial + 1000 + int(19_000) });
    }
    // Late retries that are due ride along with this account's next request.
    for (let i = later.length - 1; i >= 0; i--) {
      const entry = later[i]!;
      if (entry.account === account && (entry.due <= serial || serial >= options.events) && batched) {
        events.splice(int(events.length + 1), 0, entry.event);
        later.splice(i, 1);
      }
    }
    if (batched) requests.push({ account, route: '/v1/batch', events });
    else requests.push({ account, route: events[0]!.type === 'track' ? '/v1/track' : '/v1/identify', events });
    deliveries += events.length;
  }
  // Whatever is still pending is sent at the very end, one late retry per request.
  for (const entry of later) {
    requests.push({ account: entry.account, route: entry.event.type === 'track' ? '/v1/track' : '/v1/identify', events: [entry.event] });
    deliveries += 1;
  }
  return { options, requests, distinct: serial, deliveries };
}
