import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'kana_live_';

/** A new API key: 32 random bytes, so a fast unsalted hash is enough to store it. */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What we store and look up; the key itself is shown once and never stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The first characters of a key, safe to store and show so a person can tell keys apart. */
export function keyHint(key: string): string {
  return `${key.slice(0, KEY_PREFIX.length + 4)}…`;
}

const HOW = 'send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>';

/** Why an Authorization header holds no key, in words that say how to send it; never repeats the header (it may hold a secret). */
export class NoApiKey {
  constructor(readonly reason: string) {}
}

/**
 * The API key of an Authorization header: `Basic base64(key + ":")` (what
 * Segment sends; the password is ignored) or `Bearer <key>`; otherwise why
 * there is none (allocated only then: a request with a key pays nothing for
 * the wording). Surrounding whitespace is not part of a key (keys are
 * base64url): a key pasted into Segment's settings with a trailing space or
 * newline still authenticates, where a 401 would make Segment drop every event.
 */
export function readApiKey(header: string | undefined): string | NoApiKey {
  if (!header) return new NoApiKey(`missing API key: ${HOW}`);
  const space = header.indexOf(' ');
  if (space < 0) return new NoApiKey(`the Authorization header has no scheme: ${HOW}`);
  const scheme = header.slice(0, space);
  const lower = scheme.toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (lower === 'bearer') return credentials || new NoApiKey(`the Bearer token is empty: ${HOW}`);
  if (lower !== 'basic') {
    // A header of blanks only reads as no header at all.
    return new NoApiKey(header.trim() === '' ? `missing API key: ${HOW}` : `the Authorization scheme '${scheme.slice(0, 20)}' is not accepted: ${HOW}`);
  }
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = (colon < 0 ? decoded : decoded.slice(0, colon)).trim();
  if (key) return key;
  return colon >= 0 && decoded.slice(colon + 1).trim() !== ''
    ? new NoApiKey('the Basic user name is empty: the API key goes in the user name, with an empty password (base64(apiKey + ":"))')
    : new NoApiKey(`missing API key: ${HOW}`);
}
