import type { Condition, Scalar } from './rules';

// Pure evaluation of one rule condition against a track event's properties.
//
// Semantics (documented because billing depends on them):
// - `property` is a dot path into `properties` ("plan.tier"); a key that itself
//   contains dots ("plan.tier" literally) is found first. Only own keys are
//   followed, so "constructor" or "__proto__" never reach Object.prototype.
// - A missing property matches only `not_exists`.
// - `exists` means present and not null; `not_exists` is its negation.
// - Type mismatches never match (not even `neq`): `plan neq "free"` does not
//   hold when plan is a number, an object or missing. Numbers and numeric
//   strings are one type: "10" eq 10, and gt/gte/lt/lte compare numerically
//   and only numerically (two non-numeric strings never compare).
// - `contains`: a string property contains the (string) value as a substring;
//   an array property contains an element equal (as `eq`) to the value.
// - `in`: the property equals (as `eq`) one element of the value list.
// - A condition whose value has the wrong shape for its operator (a list for
//   `gt`, a scalar for `in`) never matches rather than throwing: rules come
//   from the rules service, already validated; a bad one must not stop ingest.

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function readPath(properties: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(properties, path)) return properties[path];
  let current: unknown = properties;
  for (const segment of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** A finite number, or a string that spells one; anything else is not numeric. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && NUMERIC.test(value.trim())) {
    const parsed = Number(value.trim());
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/** true / false when comparable, undefined on a type mismatch. */
function equals(actual: unknown, expected: Scalar | undefined): boolean | undefined {
  if (expected === undefined) return undefined;
  if (expected === null || actual === null) return actual === expected;
  const a = asNumber(actual);
  const b = asNumber(expected);
  if (a !== undefined && b !== undefined) return a === b;
  if (typeof actual === 'string' && typeof expected === 'string') return actual === expected;
  if (typeof actual === 'boolean' && typeof expected === 'boolean') return actual === expected;
  return undefined;
}

function compare(actual: unknown, expected: Condition['value']): number | undefined {
  if (Array.isArray(expected)) return undefined;
  const a = asNumber(actual);
  const b = asNumber(expected);
  return a === undefined || b === undefined ? undefined : a - b;
}

export function matchesCondition(properties: Record<string, unknown>, condition: Condition): boolean {
  const actual = readPath(properties, condition.property);
  const { operator, value } = condition;
  if (operator === 'exists') return actual !== undefined && actual !== null;
  if (operator === 'not_exists') return actual === undefined || actual === null;
  if (actual === undefined) return false;
  switch (operator) {
    case 'eq':
      return !Array.isArray(value) && equals(actual, value) === true;
    case 'neq':
      return !Array.isArray(value) && equals(actual, value) === false;
    case 'contains':
      if (Array.isArray(value) || value === undefined) return false;
      if (typeof actual === 'string') return typeof value === 'string' && actual.includes(value);
      if (Array.isArray(actual)) return actual.some((element) => equals(element, value) === true);
      return false;
    case 'in':
      return Array.isArray(value) && value.some((candidate) => equals(actual, candidate) === true);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const diff = compare(actual, value);
      if (diff === undefined) return false;
      return operator === 'gt' ? diff > 0 : operator === 'gte' ? diff >= 0 : operator === 'lt' ? diff < 0 : diff <= 0;
    }
    default:
      return assertNever(operator);
  }
}

function assertNever(operator: never): false {
  void operator;
  return false;
}
