// Segment libraries send ISO-8601 strings; some customers send epoch
// milliseconds. Everything leaves the gateway as `Date#toISOString()` (UTC).

// A date-time without a zone would be read in the server's local zone by
// Date; we read it as UTC so the result does not depend on where we run.
const NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
// Years outside four digits would not be a valid ISO instant downstream.
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The instant as ISO UTC, or undefined when it cannot be read as one. */
export function toIsoInstant(value: unknown): string | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    ms = Date.parse(NO_ZONE.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  } else {
    return undefined;
  }
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) return undefined;
  return new Date(ms).toISOString();
}
