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

/**
 * The API key of an Authorization header: `Basic base64(key + ":")` (what
 * Segment sends; the password is ignored) or `Bearer <key>`. Undefined when
 * the header is missing or has neither form. Surrounding whitespace is not
 * part of a key (keys are base64url): a key pasted into Segment's settings
 * with a trailing space or newline still authenticates, where a 401 would make
 * Segment drop every event.
 */
export function apiKeyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (scheme === 'bearer') return credentials || undefined;
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = (colon < 0 ? decoded : decoded.slice(0, colon)).trim();
  return key || undefined;
}

const HOW = 'send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>';

/**
 * Why apiKeyFromAuthorization found no key in `header`, in words that say how
 * to send it. Never repeats the header: it may hold a key or another secret.
 */
export function whyNoApiKey(header: string | undefined): string {
  if (!header || header.trim() === '') return `missing API key: ${HOW}`;
  const space = header.indexOf(' ');
  if (space < 0) return `the Authorization header has no scheme: ${HOW}`;
  const scheme = header.slice(0, space);
  const lower = scheme.toLowerCase();
  if (lower === 'bearer') return `the Bearer token is empty: ${HOW}`;
  if (lower !== 'basic') return `the Authorization scheme '${scheme.slice(0, 20)}' is not accepted: ${HOW}`;
  const decoded = Buffer.from(header.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon >= 0 && decoded.slice(colon + 1).trim() !== '') {
    return 'the Basic user name is empty: the API key goes in the user name, with an empty password (base64(apiKey + ":"))';
  }
  return `missing API key: ${HOW}`;
}
