import { MAX_NESTING, nestsDeeperThan, tooDeepField } from './nesting';

const nested = (levels: number): unknown => JSON.parse(`${'[{"a":'.repeat(levels / 2)}1${'}]'.repeat(levels / 2)}`);

describe('nesting depth', () => {
  it.each([
    [1, {}, 0, true],
    [2, { a: 1 }, 1, false],
    [3, { a: [1] }, 1, true],
    [4, { a: [1] }, 2, false],
    [5, 'text', 0, false],
  ])('case %i: %j nests deeper than %i levels: %s', (_case, value, limit, expected) => {
    expect(nestsDeeperThan(value, limit)).toBe(expected);
  });

  it('counts the levels of the deepest branch, not the first', () => {
    expect(nestsDeeperThan({ shallow: 1, deep: nested(10) }, 10)).toBe(true);
    expect(nestsDeeperThan({ shallow: 1, deep: nested(10) }, 11)).toBe(false);
  });

  it('measures 100,000 levels without overflowing the stack', () => {
    expect(nestsDeeperThan(nested(100_000), MAX_NESTING)).toBe(true);
  });

  it('names the top-level field that is too deep', () => {
    expect(tooDeepField({ userId: 'u', traits: { a: nested(MAX_NESTING) } })).toBe('traits');
    expect(tooDeepField({ userId: 'u', traits: nested(MAX_NESTING) })).toBeUndefined();
  });
});
