import type { Condition, Scalar } from '@kana/schemas';

// Rule matching, the same semantics as the usage service's evaluator: the
// preview and the choice of events to reprocess must agree with what usage will
// decide, or a preview would promise mappings that never happen.
// NOTE: duplicates usage's matcher; it belongs in packages/schemas so both
// services import one implementation (left for the lead to move).

export interface MatchableRule {
  eventName: string;
  conditions: readonly Condition[];
}

export interface MatchableEvent {
  event: string;
  properties: Record<string, unknown>;
}

/** `eventName` equals the event name and every condition holds (AND); no conditions = the name alone. */
export function ruleMatches(rule: MatchableRule, event: MatchableEvent): boolean {
  return rule.eventName === event.event && rule.conditions.every((condition) => conditionHolds(condition, event.properties));
}

export function conditionHolds(condition: Condition, properties: Record<string, unknown>): boolean {
  const actual = readPath(properties, condition.property);
  const expected = condition.value;
  switch (condition.operator) {
    case 'exists':
      return actual !== undefined && actual !== null;
    case 'not_exists':
      return actual === undefined || actual === null;
    case 'eq':
      return !Array.isArray(expected) && equals(actual, expected);
    case 'neq':
      // A missing property is "not equal": `plan neq free` holds for an event without a plan.
      return !Array.isArray(expected) && !equals(actual, expected);
    case 'in':
      return Array.isArray(expected) && expected.some((item) => equals(actual, item));
    case 'contains':
      return contains(actual, expected);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return compare(condition.operator, actual, expected);
  }
}

/** A dot path into `properties`; only plain objects are walked, so `a.0` never indexes an array. */
export function readPath(properties: Record<string, unknown>, path: string): unknown {
  let current: unknown = properties;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite number, or a string that spells one (`"12"`, `" 1.5e3 "`); anything else is not a number. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && NUMERIC.test(value.trim())) {
    const parsed = Number(value.trim());
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/** Numbers and numeric strings compare numerically ("10" eq 10); other scalars strictly; objects never. */
function equals(actual: unknown, expected: Scalar | undefined): boolean {
  if (actual === undefined || expected === undefined) return false;
  const a = asNumber(actual);
  const b = asNumber(expected);
  if (a !== undefined && b !== undefined) return a === b;
  if (actual !== null && typeof actual === 'object') return false;
  return actual === expected;
}

/** A string contains the value as a substring; an array contains an element equal to it. */
function contains(actual: unknown, expected: Condition['value']): boolean {
  if (expected === undefined || expected === null || Array.isArray(expected)) return false;
  if (typeof actual === 'string') return actual.includes(String(expected));
  if (Array.isArray(actual)) return actual.some((item) => equals(item, expected));
  return false;
}

function compare(operator: 'gt' | 'gte' | 'lt' | 'lte', actual: unknown, expected: Condition['value']): boolean {
  const a = asNumber(actual);
  const b = Array.isArray(expected) ? undefined : asNumber(expected);
  if (a === undefined || b === undefined) return false;
  switch (operator) {
    case 'gt':
      return a > b;
    case 'gte':
      return a >= b;
    case 'lt':
      return a < b;
    case 'lte':
      return a <= b;
  }
}
