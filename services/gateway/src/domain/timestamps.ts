// Segment libraries send ISO-8601 strings; some customers send epoch
// milliseconds, others epoch seconds. Everything leaves the gateway as
// `Date#toISOString()` (UTC).

// A date-time without a zone would be read in the server's local zone by
// Date; we read it as UTC so the result does not depend on where we run.
const NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
// Years outside four digits would not be a valid ISO instant downstream.
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
// A number below this is epoch seconds: as milliseconds it would be before
// March 1973 (no usage event is), as seconds it reaches past the year 5000.
// Read as milliseconds, 1714557600 (2024-05-01 in seconds) would put the
// usage in January 1970, outside every billing period.
export const EPOCH_SECONDS_BELOW = 1e11;

// What Date#toISOString() gives for 1970-9999: when a sender already writes that (Segment's
// libraries do), the text is its own answer, without formatting a Date. Left to the general
// path, which may answer differently: hour 24 (Date reads 24:00 as the next day's midnight)
// and a day past the end of its month (Date rolls 2023-02-29 over to March 1).
const CANONICAL = /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):\d{2}:\d{2}\.\d{3}Z$/;

/** The instant as ISO UTC, or undefined when it cannot be read as one. */
export function toIsoInstant(value: unknown): string | undefined {
  if (typeof value === 'string' && CANONICAL.test(value) && Number(value.slice(8, 10)) <= daysInMonth(Number(value.slice(0, 4)), Number(value.slice(5, 7)))) {
    // Date.parse refuses (NaN) month 00 or 13+, day 00, minute or second 60+.
    const ms = Date.parse(value);
    return Number.isFinite(ms) && ms >= MIN_MS && ms <= MAX_MS ? value : undefined;
  }
  return toIsoInstantParsed(value);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** toIsoInstant without the shortcut for canonical text (exported for the test that compares both). */
export function toIsoInstantParsed(value: unknown): string | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = Math.abs(value) < EPOCH_SECONDS_BELOW ? value * 1000 : value;
  } else if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    ms = Date.parse(NO_ZONE.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  } else {
    return undefined;
  }
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) return undefined;
  return new Date(ms).toISOString();
}
