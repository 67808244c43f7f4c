// Which stored unmapped events a change can affect, i.e. what its reprocess
// job republishes. An event with `properties.featureId` is mapped by that id
// alone (rules never apply to it), so rules select events without one and new
// features select events carrying their id.

export interface Selection {
  /** Events named so, without a featureId. */
  eventNames: string[];
  /** Events whose properties.featureId is one of these. */
  featureIds: string[];
}

export type Change =
  | { kind: 'feature_created'; featureId: string }
  | { kind: 'feature_deleted'; featureId: string }
  | { kind: 'rule_created'; eventName: string; enabled: boolean }
  | { kind: 'rule_updated'; eventName: string; enabled: boolean }
  | { kind: 'rule_deleted' };

/**
 * Removing a rule or feature cannot make an unmapped event map, so its scope is
 * empty; a disabled rule maps nothing either. A rule that moved from one event
 * name to another only affects the new name: events of the old one that it
 * mapped are not in the unmapped store.
 */
export function selectionOf(change: Change): Selection {
  switch (change.kind) {
    case 'feature_created':
      return { eventNames: [], featureIds: [change.featureId] };
    case 'rule_created':
    case 'rule_updated':
      return { eventNames: change.enabled ? [change.eventName] : [], featureIds: [] };
    case 'feature_deleted':
    case 'rule_deleted':
      return { eventNames: [], featureIds: [] };
  }
}

/**
 * A superseded job's events must not be forgotten: the job replacing it walks
 * the union of both scopes from the start (events the old job already sent are
 * sent again; usage is idempotent, so that costs time, never a double count).
 */
export function unionOf(...selections: Selection[]): Selection {
  const eventNames = new Set<string>();
  const featureIds = new Set<string>();
  for (const selection of selections) {
    selection.eventNames.forEach((name) => eventNames.add(name));
    selection.featureIds.forEach((id) => featureIds.add(id));
  }
  return { eventNames: [...eventNames].sort(), featureIds: [...featureIds].sort() };
}

export function isEmpty(selection: Selection): boolean {
  return selection.eventNames.length === 0 && selection.featureIds.length === 0;
}
