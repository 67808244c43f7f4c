// Measuring an event by serialising it (JSON.stringify) was a large share of
// the CPU per event of a batch: every event of a request over 32 KB was
// serialised only to find it far below the limit. An upper bound from one
// walk answers "certainly within" for almost every event; only the others
// are serialised to get the exact size the 413 reports.

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` for a value
 * parsed from JSON, or Infinity once it exceeds `budget` (the walk stops
 * there). The caller has checked the nesting depth (nesting.ts).
 */
export function jsonBytesAtMost(value: unknown, budget: number): number {
  let total = 0;
  const add = (item: unknown): boolean => {
    switch (typeof item) {
      case 'string':
        // Each UTF-16 unit is at most 6 bytes in JSON (`\u001f`, a lone surrogate), plus the quotes.
        total += 2 + 6 * item.length;
        break;
      case 'number':
        total += 24; // the longest a double prints, e.g. -2.2250738585072014e-308
        break;
      case 'boolean':
        total += 5;
        break;
      case 'object':
        if (item === null) {
          total += 4;
          break;
        }
        total += 2;
        if (Array.isArray(item)) {
          for (let i = 0; i < item.length; i++) {
            total += 1;
            if (!add(item[i])) return false;
          }
        } else {
          for (const key in item) {
            total += 4 + 6 * key.length; // quotes, colon, comma
            if (!add((item as Record<string, unknown>)[key])) return false;
          }
        }
        break;
      default:
        total += 4; // undefined in an array prints as null; JSON input has none
    }
    return total <= budget;
  };
  return add(value) ? total : Infinity;
}
