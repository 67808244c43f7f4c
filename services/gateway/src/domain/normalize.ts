import { parseDelta, segmentEvent, type SegmentEvent, SUPPORTED_TYPES, UNSUPPORTED_TYPES } from '@kana/schemas';
import { describeZodError, isStorable, toStorable, unstorableMessage } from '@kana/platform';
import { foldFields } from './casing';
import { contentMessageId } from './message-id';
import { MAX_NESTING, tooDeepField } from './nesting';
import { jsonBytesAtMost } from './size';
import { toIsoInstant } from './timestamps';

export const MAX_EVENT_BYTES = 32 * 1024;

/** Why an event was not accepted; `status` is what a single-event request answers. */
export interface Rejection {
  status: 400 | 413 | 501;
  message: string;
}

export type Normalized = { ok: true; event: SegmentEvent } | { ok: false; rejection: Rejection };

export interface NormalizeContext {
  accountId: string;
  /** When the gateway received the request (ISO UTC); the default timestamp. */
  receivedAt: string;
  /** `/v1/track` and `/v1/identify` imply their type. */
  impliedType?: 'identify' | 'track';
  /** Batch-level `context`/`integrations`/`sentAt`, which Segment applies to every event of the batch. */
  batchDefaults?: { context?: unknown; integrations?: unknown; sentAt?: unknown; bytes?: number };
  /** Size of the whole request body; when it is within the event limit, no event can exceed it. */
  requestBytes?: number;
  /**
   * The request's JSON text holds no `\u` escape, the only way JSON carries U+0000 or half of a
   * surrogate pair, so no string of its events needs a look for them (storable.ts).
   */
  noUnicodeEscape?: boolean;
}

// Values that some SDKs and hand-written integrations send for "no user";
// counting usage against them would merge unrelated people into one user.
const PLACEHOLDER_IDS = new Set(['anonymous', 'null', 'undefined', '0', 'nil', 'none', 'nan']);

/** The 501 of a Segment call type Kana does not take, on /v1/segment and on its own Tracking API route alike. */
export const unsupportedCallMessage = (type: string): string => `call type '${type}' is not supported: Kana accepts identify and track`;

const reject = (status: Rejection['status'], message: string): Normalized => ({ ok: false, rejection: { status, message } });
const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Turns one event as a customer sent it into the canonical event that goes to
 * Kafka, or says why not. Pure: no clock, no I/O (the caller passes receivedAt).
 */
export function normalizeEvent(raw: unknown, context: NormalizeContext): Normalized {
  if (!isObject(raw)) return reject(400, 'an event must be a JSON object');
  // Before anything serialises the event: what follows recurses (see nesting.ts).
  const deep = tooDeepField(raw);
  if (deep !== undefined) return reject(400, `field '${deep}' nests objects and arrays deeper than ${MAX_NESTING} levels`);
  // Serialising every event to measure it is a large share of the CPU per
  // event; a request that is itself within the limit cannot hold a larger
  // event, batch defaults included (they are part of the same request), and
  // an upper bound from one walk clears nearly every other event (size.ts).
  const defaultsBytes = context.batchDefaults?.bytes ?? 0;
  const certainlyWithin =
    (context.requestBytes !== undefined && context.requestBytes <= MAX_EVENT_BYTES) || jsonBytesAtMost(raw, MAX_EVENT_BYTES - defaultsBytes) !== Infinity;
  const bytes = certainlyWithin ? 0 : Buffer.byteLength(JSON.stringify(raw)) + defaultsBytes;
  if (bytes > MAX_EVENT_BYTES) {
    return reject(413, `event is ${bytes} bytes${defaultsBytes > 0 ? " with the batch's context and integrations" : ''}; the limit is 32 KB per event`);
  }

  const folded = foldFields(raw);
  if (!folded.ok) return reject(400, folded.message);
  const fields = folded.fields;

  // Nearly every sender spells the type canonically: no trim and lowercase copy for them.
  const sentType = fields.type;
  const type = sentType === 'track' || sentType === 'identify' || typeof sentType !== 'string' ? sentType : sentType.trim().toLowerCase();
  if (type === undefined && !context.impliedType) return reject(400, "field 'type' is required: identify or track");
  if (type !== undefined && typeof type !== 'string') return reject(400, "field 'type' must be a string: identify or track");
  if ((UNSUPPORTED_TYPES as readonly unknown[]).includes(type)) {
    return reject(501, unsupportedCallMessage(type as string));
  }
  if (type !== undefined && !(SUPPORTED_TYPES as readonly unknown[]).includes(type)) {
    return reject(400, `field 'type' is '${String(type).slice(0, 40)}': Kana accepts identify and track`);
  }
  if (context.impliedType && type !== undefined && type !== context.impliedType) {
    return reject(400, `field 'type' is '${type}' but this route accepts ${context.impliedType} events`);
  }
  const eventType = (type ?? context.impliedType) as SegmentEvent['type'];

  const userId = readId(fields.userId, 'userId');
  if (userId === undefined) return reject(400, "anonymous events are not accepted: field 'userId' is required");
  if (typeof userId !== 'string') return userId;
  const trimmedUserId = userId.trim();
  if (trimmedUserId === '' || (trimmedUserId.length <= LONGEST_PLACEHOLDER && PLACEHOLDER_IDS.has(trimmedUserId.toLowerCase()))) {
    return reject(400, `field 'userId' is the placeholder '${userId}', not a user id; anonymous events are not accepted`);
  }
  const anonymousId = readId(fields.anonymousId, 'anonymousId');
  if (anonymousId !== undefined && typeof anonymousId !== 'string') return anonymousId;
  const sentMessageId = readId(fields.messageId, 'messageId');
  if (sentMessageId !== undefined && typeof sentMessageId !== 'string') return sentMessageId;
  if (!context.noUnicodeEscape) {
    // Postgres, where the services store events, cannot hold these: such an event was answered 200
    // and then dead-lettered by every consumer. In an id or the event name they are refused.
    const named = unstorableId(userId, 'userId') ?? unstorableId(anonymousId, 'anonymousId') ?? unstorableId(sentMessageId, 'messageId') ?? unstorableId(fields.event, 'event');
    if (named) return named;
  }
  const oversized = oversizedId(userId, 'userId') ?? oversizedId(anonymousId, 'anonymousId') ?? oversizedId(sentMessageId, 'messageId') ?? oversizedId(fields.event, 'event');
  if (oversized) return oversized;

  const timestamp = readInstant(fields.timestamp);
  if (timestamp === INVALID) return invalidInstant('timestamp');
  const sentAt = readInstant(fields.sentAt ?? context.batchDefaults?.sentAt);
  if (sentAt === INVALID) return invalidInstant('sentAt');
  const receivedAt = readInstant(fields.receivedAt);
  if (receivedAt === INVALID) return invalidInstant('receivedAt');

  // Fresh plain objects (the batch's defaults first, the event's own fields over them), so
  // nothing downstream shares or mutates the sender's parsed body.
  let properties = objectField(fields.properties, undefined);
  if (properties === undefined) return reject(400, "field 'properties' must be an object");
  let traits = objectField(fields.traits, undefined);
  if (traits === undefined) return reject(400, "field 'traits' must be an object");
  let eventContext = objectField(fields.context, context.batchDefaults?.context);
  if (eventContext === undefined) return reject(400, "field 'context' must be an object");
  let integrations = objectField(fields.integrations, context.batchDefaults?.integrations);
  if (integrations === undefined) return reject(400, "field 'integrations' must be an object");
  if (!context.noUnicodeEscape) {
    // In free-form data they become U+FFFD, so the event is still stored and counted (README).
    [properties, traits, eventContext, integrations] = [toStorable(properties), toStorable(traits), toStorable(eventContext), toStorable(integrations)];
  }

  let candidate: Record<string, unknown>;
  // One literal per type, in the order the event always had (type, userId, ..., receivedAt).
  if (eventType === 'track') {
    if (typeof fields.event !== 'string' || fields.event.trim() === '') {
      return reject(400, "field 'event' is required for track: the name of the event, e.g. 'Message Sent'");
    }
    if (parseDelta(properties.delta) === undefined) {
      return reject(400, "field 'properties.delta' must be a finite number or a numeric string");
    }
    candidate = {
      type: eventType,
      userId,
      anonymousId: anonymousId ?? null,
      timestamp: timestamp ?? context.receivedAt,
      context: eventContext,
      integrations,
      event: fields.event,
      properties,
      messageId: sentMessageId,
      sentAt: sentAt ?? null,
      receivedAt: receivedAt ?? null,
    };
    // What the sender chose, canonically spelled: the input of a derived messageId.
    candidate.messageId ??= contentMessageId(context.accountId, { type: eventType, userId, anonymousId, timestamp, context: eventContext, integrations, event: fields.event, properties });
  } else {
    candidate = {
      type: eventType,
      userId,
      anonymousId: anonymousId ?? null,
      timestamp: timestamp ?? context.receivedAt,
      context: eventContext,
      integrations,
      traits,
      messageId: sentMessageId,
      sentAt: sentAt ?? null,
      receivedAt: receivedAt ?? null,
    };
    candidate.messageId ??= contentMessageId(context.accountId, { type: eventType, userId, anonymousId, timestamp, context: eventContext, integrations, traits });
  }

  // The checks above give the precise messages. What is left of segmentEvent
  // (string lengths, instant format) is checked directly: running the whole
  // zod schema on every event was a large share of the gateway's CPU. Anything
  // the direct check doubts goes through zod, which words the 400 (and the
  // unit tests' sink parses every stored event with segmentEvent).
  if (plainlyValid(candidate)) return { ok: true, event: candidate as SegmentEvent };
  const parsed = segmentEvent.safeParse(candidate);
  if (!parsed.success) return reject(400, describeZodError(parsed.error, 'event'));
  return { ok: true, event: parsed.data };
}

const LONGEST_PLACEHOLDER = Math.max(...[...PLACEHOLDER_IDS].map((id) => id.length));
const INVALID = Symbol('invalid instant');
const invalidInstant = (name: 'timestamp' | 'sentAt' | 'receivedAt'): Normalized =>
  reject(400, `field '${name}' is not a valid date-time: send ISO-8601, e.g. 2024-05-01T10:00:00Z`);
/** An absent instant (undefined or null) is undefined; one that cannot be read is INVALID. */
const readInstant = (value: unknown): string | undefined | typeof INVALID =>
  value === undefined || value === null ? undefined : (toIsoInstant(value) ?? INVALID);

/**
 * A copy of the object field `value` over `batchDefault` (when that is an object); `{}` when
 * the field is absent; undefined when it is present but not an object.
 */
function objectField(value: unknown, batchDefault: unknown): Record<string, unknown> | undefined {
  if (value !== undefined && !isObject(value)) return undefined;
  const own = value as Record<string, unknown> | undefined;
  if (isObject(batchDefault)) return { ...batchDefault, ...own };
  return own === undefined ? {} : { ...own };
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const MAX_ID = 512;
const idOk = (value: unknown): boolean => typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID;
const instantOk = (value: unknown): boolean => typeof value === 'string' && ISO_INSTANT.test(value);

/**
 * True only when `candidate` (built above: type checked, objects fresh plain
 * objects) satisfies segmentEvent; false sends it to zod for the verdict.
 */
function plainlyValid(candidate: Record<string, unknown>): boolean {
  return (
    idOk(candidate.userId) &&
    idOk(candidate.messageId) &&
    (candidate.anonymousId === null || (typeof candidate.anonymousId === 'string' && candidate.anonymousId.length <= MAX_ID)) &&
    (candidate.type === 'identify' || idOk(candidate.event)) &&
    instantOk(candidate.timestamp) &&
    (candidate.sentAt === null || instantOk(candidate.sentAt)) &&
    (candidate.receivedAt === null || instantOk(candidate.receivedAt))
  );
}

const unstorableId = (value: unknown, name: string): Normalized | undefined =>
  typeof value === 'string' && !isStorable(value) ? reject(400, unstorableMessage(`field '${name}'`, value)) : undefined;

/**
 * Ids and the event name are indexed two at a time (the rules service's unmapped store: event name
 * or userId, with the messageId), and a Postgres index entry holds at most 2704 bytes: 512
 * characters of CJK text are 1536 bytes, and two of them made the store refuse the event (it went
 * to the DLQ, never listed, never counted by a later rule). 1024 bytes each leaves room for the rest.
 */
export const MAX_ID_BYTES = 1024;

function oversizedId(value: unknown, name: string): Normalized | undefined {
  // A UTF-16 unit is at most 3 bytes of UTF-8: a string this short cannot be over, without measuring it.
  if (typeof value !== 'string' || value.length * 3 <= MAX_ID_BYTES) return undefined;
  const bytes = Buffer.byteLength(value);
  return bytes > MAX_ID_BYTES ? reject(400, `field '${name}' is ${bytes} bytes in UTF-8; ids and event names may be at most ${MAX_ID_BYTES} bytes (and 512 characters)`) : undefined;
}

/** Ids are strings; SDKs in typed languages sometimes send numbers, which we keep as their decimal text. */
function readId(value: unknown, name: string): string | Normalized | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return reject(400, `field '${name}' must be a string`);
}
