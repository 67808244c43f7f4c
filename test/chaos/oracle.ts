import { FEATURES, MIDWAY_FEATURES, MIDWAY_RULES, RULES, type Event, type RuleSpec } from './workload';

// The expected end state, computed from the acknowledged events alone, with
// the rules and features as they stand at the end (a rule created midway
// applies to every earlier event through reprocessing). This is DESIGN.md's
// semantics restated independently of the services' code:
// - featureId present: one record for it when the feature exists, else unmapped;
// - otherwise one record per distinct feature of the matching rules, none = unmapped;
// - delta is properties.delta (number or numeric string), default 1;
// - each (account, messageId) counts once; identify fields are last writer wins
//   by event timestamp, per field.

export interface ExpectedRecord {
  account: number;
  messageId: string;
  featureId: string;
  userId: string;
  delta: number;
}

export interface ExpectedUser {
  name?: string;
  email?: string;
  billingId?: string;
}

export interface Expected {
  /** key `${account}|${messageId}|${featureId}` */
  records: Map<string, ExpectedRecord>;
  /** per account: key `${userId}|${featureId}` → total */
  totals: Map<number, Map<string, number>>;
  /** per account: userId → fields */
  users: Map<number, Map<string, ExpectedUser>>;
  /** per account: messageIds expected in the unmapped list */
  unmapped: Map<number, Set<string>>;
}

export const recordKey = (account: number, messageId: string, featureId: string) => `${account}|${messageId}|${featureId}`;

const FINAL_FEATURES = new Set([...FEATURES, ...MIDWAY_FEATURES]);
const FINAL_RULES: RuleSpec[] = [...RULES, ...MIDWAY_RULES];

function matches(rule: RuleSpec, event: Event): boolean {
  if (rule.eventName !== event.event) return false;
  const properties = event.properties as Record<string, unknown>;
  return rule.conditions.every((c) => c.operator === 'eq' && properties[c.property] === c.value);
}

/** The features a track event counts toward at the end of the run ([] = unmapped). */
export function featuresOf(event: Event): string[] {
  const properties = event.properties as Record<string, unknown>;
  if (typeof properties.featureId === 'string') return FINAL_FEATURES.has(properties.featureId) ? [properties.featureId] : [];
  return [...new Set(FINAL_RULES.filter((rule) => matches(rule, event)).map((rule) => rule.featureId))];
}

function deltaOf(event: Event): number {
  const delta = (event.properties as Record<string, unknown>).delta;
  return delta === undefined ? 1 : Number(delta);
}

const inner = <K, V>(map: Map<number, Map<K, V>>, account: number) => {
  let found = map.get(account);
  if (!found) map.set(account, (found = new Map()));
  return found;
};

/** `acked`: every acknowledged (account, event), duplicates allowed (they are the same event). */
export function expectedOf(acked: Iterable<{ account: number; event: Event }>): Expected {
  const expected: Expected = { records: new Map(), totals: new Map(), users: new Map(), unmapped: new Map() };
  const seen = new Set<string>();
  const identifies: { account: number; event: Event }[] = [];
  for (const { account, event } of acked) {
    const id = `${account}|${event.messageId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (event.type === 'identify') {
      identifies.push({ account, event });
      continue;
    }
    const features = featuresOf(event);
    if (features.length === 0) {
      let set = expected.unmapped.get(account);
      if (!set) expected.unmapped.set(account, (set = new Set()));
      set.add(event.messageId);
    }
    for (const featureId of features) {
      const delta = deltaOf(event);
      expected.records.set(recordKey(account, event.messageId, featureId), { account, messageId: event.messageId, featureId, userId: event.userId, delta });
      const totals = inner(expected.totals, account);
      const key = `${event.userId}|${featureId}`;
      totals.set(key, (totals.get(key) ?? 0) + delta);
    }
  }
  // Last writer wins per field: apply in timestamp order, newest last.
  identifies.sort((a, b) => Date.parse(a.event.timestamp) - Date.parse(b.event.timestamp));
  for (const { account, event } of identifies) {
    const users = inner(expected.users, account);
    const user = users.get(event.userId) ?? {};
    const traits = event.traits as Record<string, string | undefined>;
    if (traits.name !== undefined) user.name = traits.name;
    if (traits.email !== undefined) user.email = traits.email;
    if (traits.billingUserId !== undefined) user.billingId = traits.billingUserId;
    users.set(event.userId, user);
  }
  return expected;
}
