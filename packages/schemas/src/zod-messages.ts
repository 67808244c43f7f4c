import { z } from 'zod';

// zod's own words name its types and checks ("Invalid input: expected string, received undefined",
// "Too big: expected string to have <=512 characters"): a 400 should say what to send instead. Set
// once, for every schema, by importing this package (every service does); a schema's own message
// still wins over these.

const EXPECTED: Record<string, string> = { string: 'a string', number: 'a number', boolean: 'true or false', object: 'an object', array: 'an array', int: 'a whole number' };

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'not a finite number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

type Bound = { origin: string; inclusive?: boolean };
const count = (n: number | bigint, noun: string) => `${n} ${noun}${Number(n) === 1 ? '' : 's'}`;

function tooSmall(issue: Bound & { minimum: number | bigint }): string | undefined {
  const at = issue.inclusive === false ? 'more than' : 'at least';
  if (issue.origin === 'string') return Number(issue.minimum) === 1 && issue.inclusive !== false ? 'must not be empty' : `must be ${at} ${count(issue.minimum, 'character')}`;
  if (issue.origin === 'array') return Number(issue.minimum) === 1 && issue.inclusive !== false ? 'must not be empty' : `must have ${at} ${count(issue.minimum, 'item')}`;
  if (issue.origin === 'number') return `must be ${at} ${issue.minimum}`;
  return undefined;
}

function tooBig(issue: Bound & { maximum: number | bigint }): string | undefined {
  const at = issue.inclusive === false ? 'less than' : 'at most';
  if (issue.origin === 'string') return `must be ${at} ${count(issue.maximum, 'character')}`;
  if (issue.origin === 'array') return `must have ${at} ${count(issue.maximum, 'item')}`;
  if (issue.origin === 'number') return `must be ${at} ${issue.maximum}`;
  return undefined;
}

z.config({
  customError: (issue) => {
    switch (issue.code) {
      case 'invalid_type':
        if (issue.input === undefined) return 'is required';
        return EXPECTED[issue.expected] ? `must be ${EXPECTED[issue.expected]}, not ${kindOf(issue.input)}` : undefined;
      case 'too_small':
        return tooSmall(issue);
      case 'too_big':
        return tooBig(issue);
      default:
        return undefined;
    }
  },
});
