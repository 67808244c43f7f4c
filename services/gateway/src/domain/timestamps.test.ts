import fc from 'fast-check';
import { toIsoInstant, toIsoInstantParsed } from './timestamps';

describe('toIsoInstant', () => {
  it.each([
    ['2024-05-01T10:00:00.000Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999Z'],
    ['2023-02-29T10:00:00.000Z', '2023-03-01T10:00:00.000Z'],
    ['2024-04-31T10:00:00.000Z', '2024-05-01T10:00:00.000Z'],
    ['2024-04-32T10:00:00.000Z', undefined],
    ['2024-00-10T10:00:00.000Z', undefined],
    ['2024-05-01T24:00:00.000Z', '2024-05-02T00:00:00.000Z'],
    ['2024-05-01T10:60:00.000Z', undefined],
    ['1969-12-31T23:59:59.999Z', undefined],
    ['0000-01-01T00:00:00.000Z', undefined],
  ])('reads %p as %p', (input, expected) => {
    expect(toIsoInstant(input)).toBe(expected);
  });

  it.each([
    [1714557600000, '2024-05-01T10:00:00.000Z'],
    [1714557600, '2024-05-01T10:00:00.000Z'],
    [1714557600.25, '2024-05-01T10:00:00.250Z'],
    [99_999_999_999, '5138-11-16T09:46:39.000Z'],
    [100_000_000_000, '1973-03-03T09:46:40.000Z'],
    [0, '1970-01-01T00:00:00.000Z'],
    [-1, undefined],
    [Number.NaN, undefined],
  ])('reads the number %p as epoch seconds below 1e11 and milliseconds above: %p', (input, expected) => {
    expect(toIsoInstant(input)).toBe(expected);
  });

  it('gives what parsing and formatting give for any text in the canonical shape', () => {
    // Fields around their valid ranges (month 0-13, day 0-32, hour 0-25, ...) and any year.
    const padded = (min: number, max: number, width: number) => fc.integer({ min, max }).map((n) => String(n).padStart(width, '0'));
    const canonical = fc
      .tuple(fc.oneof(padded(0, 9999, 4), fc.constantFrom('1900', '2000', '2023', '2024', '2100')), padded(0, 13, 2), padded(0, 32, 2), padded(0, 25, 2), padded(0, 61, 2), padded(0, 61, 2), padded(0, 999, 3))
      .map(([year, month, day, hour, minute, second, ms]) => `${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}Z`);
    const plausible = fc
      .date({ min: new Date(Date.UTC(1960, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true })
      .map((date) => date.toISOString());
    fc.assert(
      fc.property(fc.oneof(canonical, plausible), (text) => {
        expect(toIsoInstant(text)).toBe(toIsoInstantParsed(text));
      }),
      { numRuns: 20_000 },
    );
  });
});
