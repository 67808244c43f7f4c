// Segment warns that the casing of top-level fields varies by customer
// (`userId`, `user_id`, `userid`, `UserId`...). We fold every spelling to one
// canonical name by comparing names without case, `_` and `-`.

export const CANONICAL_FIELDS = [
  'type',
  'userId',
  'anonymousId',
  'messageId',
  'timestamp',
  'sentAt',
  'receivedAt',
  'event',
  'properties',
  'traits',
  'context',
  'integrations',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];

const fold = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');
const BY_FOLDED = new Map<string, CanonicalField>(CANONICAL_FIELDS.map((field) => [fold(field), field]));
// Nearly every sender spells fields canonically: one map lookup instead of a lowercase and a regex per field.
const CANONICAL = new Set<string>(CANONICAL_FIELDS);
const canonicalOf = (name: string): CanonicalField | undefined => (CANONICAL.has(name) ? (name as CanonicalField) : BY_FOLDED.get(fold(name)));

export type Folded = { ok: true; fields: Partial<Record<CanonicalField, unknown>> } | { ok: false; message: string };

/**
 * Top-level fields under their canonical names. Two spellings of one field
 * with different values are refused rather than guessed between: picking one
 * silently could attribute usage to the wrong user. A null or undefined
 * spelling counts as absent. Unknown top-level fields (`channel`, `version`,
 * `_metadata`, `writeKey`...) are not part of what Kana stores and are dropped.
 */
export function foldFields(raw: Record<string, unknown>): Folded {
  const fields: Partial<Record<CanonicalField, unknown>> = {};
  const spelledAs: Partial<Record<CanonicalField, string>> = {};
  for (const name in raw) {
    const value = raw[name];
    const canonical = canonicalOf(name);
    if (!canonical || value === undefined || value === null) continue;
    const previous = spelledAs[canonical];
    if (previous !== undefined && JSON.stringify(fields[canonical]) !== JSON.stringify(value)) {
      // Spellings are the sender's text and may be kilobytes of `_-`; the start is enough to find them.
      return { ok: false, message: `conflicting values for ${canonical}: '${previous.slice(0, 40)}' and '${name.slice(0, 40)}' differ; send one of them` };
    }
    if (previous === undefined || name === canonical) {
      fields[canonical] = value;
      spelledAs[canonical] = previous ?? name;
    }
  }
  return { ok: true, fields };
}
