import fc from 'fast-check';
import { jsonBytesAtMost } from './size';

const exact = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('jsonBytesAtMost', () => {
  it('is never below the serialised size of a JSON value', () =>
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const parsed: unknown = JSON.parse(JSON.stringify(value));
        expect(jsonBytesAtMost(parsed, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(exact(parsed));
      }),
      { seed: 7_2024, numRuns: 2_000 },
    ));

  it.each([
    ['control characters', '\u0001'.repeat(100)],
    ['lone surrogates', '\uD83D'.repeat(100)],
    ['emoji', '😀'.repeat(100)],
    ['quotes and backslashes', '"\\'.repeat(100)],
  ])('bounds strings of %s', (_name, text) => {
    const value = { [text]: [text, -2.2250738585072014e-308, null, true] };
    expect(jsonBytesAtMost(value, 1e9)).toBeGreaterThanOrEqual(exact(value));
  });

  it('answers Infinity once the budget is exceeded', () => {
    expect(jsonBytesAtMost({ a: 'x'.repeat(100) }, 100)).toBe(Infinity);
    expect(jsonBytesAtMost({ a: 'x' }, 100)).toBeLessThanOrEqual(100);
  });
});
