import { namedFeatureId, parseDelta, type RulesSnapshot, type SnapshotRule, type TrackEvent, type UnmappedReason } from '@kana/schemas';
import { matchesCondition } from '@kana/schemas';

export interface FeatureHit {
  featureId: string;
  /** The first matching rule (snapshot order); null when the event named its feature itself. */
  ruleId: string | null;
}

/** What one track event means for usage; a value, never an exception. */
export type Resolution =
  | { kind: 'mapped'; delta: number; features: FeatureHit[] }
  | { kind: 'unmapped'; reason: UnmappedReason }
  | { kind: 'invalid'; reason: string };

/**
 * `properties.featureId` present (not null): that feature, or `unknown_feature`
 * when the account has none by that id; the rules are not consulted then, so
 * an event that names a deleted feature stays visible instead of being
 * silently counted elsewhere. Otherwise every rule whose event name and
 * conditions (AND) match gives one hit per distinct feature; none is `no_rule`.
 *
 * The delta is checked first: the gateway rejects a non-numeric delta with
 * 400, so one arriving here is a bug upstream; counting it as 1 would be a
 * guess, so it is dead-lettered instead.
 */
export function resolveEvent(event: Pick<TrackEvent, 'event' | 'properties'>, snapshot: RulesSnapshot): Resolution {
  const rawDelta = event.properties.delta;
  const delta = parseDelta(rawDelta);
  if (delta === undefined) return { kind: 'invalid', reason: `properties.delta is not a finite number: ${JSON.stringify(rawDelta)?.slice(0, 100)}` };

  const index = indexOf(snapshot);
  const featureId = namedFeatureId(event.properties);
  if (featureId !== undefined) {
    return index.features.has(featureId) ? { kind: 'mapped', delta, features: [{ featureId, ruleId: null }] } : { kind: 'unmapped', reason: 'unknown_feature' };
  }

  const hits = new Map<string, FeatureHit>();
  for (const rule of index.rulesByEvent.get(event.event) ?? NO_RULES) {
    if (hits.has(rule.featureId)) continue;
    if (rule.conditions.every((condition) => matchesCondition(event.properties, condition))) {
      hits.set(rule.featureId, { featureId: rule.featureId, ruleId: rule.id });
    }
  }
  if (hits.size === 0) return { kind: 'unmapped', reason: 'no_rule' };
  return { kind: 'mapped', delta, features: [...hits.values()] };
}

/** A snapshot arranged for the lookups of resolveEvent: feature ids, and the rules of each event name in snapshot order. */
interface SnapshotIndex {
  features: ReadonlySet<string>;
  rulesByEvent: ReadonlyMap<string, readonly SnapshotRule[]>;
}

const NO_RULES: readonly SnapshotRule[] = [];
const indexes = new WeakMap<RulesSnapshot, SnapshotIndex>();

/**
 * Built once per snapshot object (snapshots are never changed in place; usage reuses one parsed snapshot for
 * every batch until the account's version changes), so an account's thousands of features or rules cost an
 * event two lookups, not a scan of them all: scanning 10,000 of each took 20-28 us an event (about what the rest
 * of usage's work on an event costs) and slowed every account sharing the process; now ~1 us (bench/usage/resolve.js).
 */
function indexOf(snapshot: RulesSnapshot): SnapshotIndex {
  let index = indexes.get(snapshot);
  if (index === undefined) {
    const rulesByEvent = new Map<string, SnapshotRule[]>();
    for (const rule of snapshot.rules) {
      const rules = rulesByEvent.get(rule.eventName);
      if (rules) rules.push(rule);
      else rulesByEvent.set(rule.eventName, [rule]);
    }
    index = { features: new Set(snapshot.features.map((feature) => feature.id)), rulesByEvent };
    indexes.set(snapshot, index);
  }
  return index;
}
