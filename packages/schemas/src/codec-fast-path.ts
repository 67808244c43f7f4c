import { ISO_INSTANT_PATTERN } from './segment';

// A check of the two values every track event crosses the usage service as (kana.segment.track and
// kana.track.reprocess), for EventCodec.decode: zod builds a copy of every object it parses (envelope,
// event, context, integrations, properties), which made zod and the garbage it leaves a sizeable share of
// the usage service's thread. This check only says yes when zod would accept the value and return an
// equal one (same keys, same values; zod's copy keeps the nested values of the free-form objects by
// reference), so the decoded value can be the parsed JSON itself. Anything else, and anything it is not
// sure about (an unknown key, which zod strips; a string longer than 512 UTF-16 units, which zod measures
// in code points; an own `__proto__` key, which zod drops), gets "no" and goes through zod as before,
// which then accepts, strips or reports the issue exactly as it always did.

const ENVELOPE_KEYS = 4; // schemaVersion, accountId, requestId, receivedAt

/** True only if `trackMessage.parse(raw)` would succeed and equal `raw`. */
export function isExactTrackMessage(raw: unknown): boolean {
  return isExactEnvelope(raw, false);
}

/** True only if `reprocessMessage.parse(raw)` would succeed and equal `raw`. */
export function isExactReprocessMessage(raw: unknown): boolean {
  return isExactEnvelope(raw, true);
}

function isExactEnvelope(raw: unknown, reprocess: boolean): boolean {
  if (!isJsonObject(raw)) return false;
  let seen = 0;
  for (const key in raw) {
    const value = raw[key];
    switch (key) {
      case 'schemaVersion':
        if (value !== 1) return false;
        break;
      case 'accountId':
      case 'requestId':
        if (!isShortString(value, 1, Infinity)) return false;
        break;
      case 'receivedAt':
        if (!isInstant(value)) return false;
        break;
      case 'event':
        if (!isExactTrackEvent(value)) return false;
        break;
      case 'jobId':
        if (!reprocess || !isShortString(value, 1, Infinity)) return false;
        break;
      case 'minRulesVersion':
        if (!reprocess || typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return false;
        break;
      default:
        return false;
    }
    seen++;
  }
  // Every key seen was a distinct known one: all of them present means none is missing.
  return seen === ENVELOPE_KEYS + 1 + (reprocess ? 2 : 0);
}

const REQUIRED_EVENT_KEYS = 8; // type, messageId, userId, timestamp, context, integrations, event, properties

function isExactTrackEvent(raw: unknown): boolean {
  if (!isJsonObject(raw)) return false;
  let required = 0;
  for (const key in raw) {
    const value = raw[key];
    switch (key) {
      case 'type':
        if (value !== 'track') return false;
        required++;
        break;
      case 'messageId':
      case 'userId':
      case 'event':
        if (!isShortString(value, 1, 512)) return false;
        required++;
        break;
      case 'timestamp':
        if (!isInstant(value)) return false;
        required++;
        break;
      case 'context':
      case 'integrations':
      case 'properties':
        if (!isJsonObject(value)) return false;
        required++;
        break;
      case 'anonymousId':
        if (value !== null && !isShortString(value, 0, 512)) return false;
        break;
      case 'sentAt':
      case 'receivedAt':
        if (value !== null && !isInstant(value)) return false;
        break;
      default:
        return false;
    }
  }
  return required === REQUIRED_EVENT_KEYS;
}

/**
 * An object as JSON.parse makes it, which zod's record and object copy key for key: no array, no other
 * prototype, no own `__proto__` (zod leaves that one out of its copy).
 */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    !Object.prototype.hasOwnProperty.call(value, '__proto__')
  );
}

/** Within bounds in UTF-16 units; a string above the upper bound is left to zod, which counts code points. */
function isShortString(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

function isInstant(value: unknown): boolean {
  return typeof value === 'string' && ISO_INSTANT_PATTERN.test(value);
}
