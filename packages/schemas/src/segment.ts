import { z } from 'zod';

// Canonical Segment events as they travel on Kafka, after the gateway has
// normalised field casing, filled defaults and validated them. Free-form
// objects (traits, properties, context, integrations) are kept as sent.

export const jsonObject = z.record(z.string(), z.unknown());

export const ISO_INSTANT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** An ISO-8601 instant in UTC, as the gateway writes it (`Date#toISOString`). */
export const isoInstant = z.string().regex(ISO_INSTANT_PATTERN, 'an ISO-8601 UTC timestamp');

const common = {
  messageId: z.string().min(1).max(512),
  userId: z.string().min(1).max(512),
  anonymousId: z.string().max(512).nullable().optional(),
  timestamp: isoInstant,
  sentAt: isoInstant.nullable().optional(),
  receivedAt: isoInstant.nullable().optional(),
  context: jsonObject,
  integrations: jsonObject,
};

export const identifyEvent = z.object({
  type: z.literal('identify'),
  ...common,
  traits: jsonObject,
});
export type IdentifyEvent = z.infer<typeof identifyEvent>;

export const trackEvent = z.object({
  type: z.literal('track'),
  ...common,
  event: z.string().min(1).max(512),
  properties: jsonObject,
});
export type TrackEvent = z.infer<typeof trackEvent>;

export const segmentEvent = z.discriminatedUnion('type', [identifyEvent, trackEvent]);
export type SegmentEvent = z.infer<typeof segmentEvent>;

export const SUPPORTED_TYPES = ['identify', 'track'] as const;
export const UNSUPPORTED_TYPES = ['page', 'screen', 'group', 'alias'] as const;

/**
 * The feature a track event names itself (`properties.featureId`), as text,
 * or undefined when it names none and the account's rules decide. Absent,
 * null and blank ("", a Segment mapping left empty) name none: the seed page
 * says featureId "defaults to the mapping rules if not present". One reading
 * for usage (which decides), the rules service's preview and the store its
 * reprocess jobs select from, so they cannot disagree about an event.
 */
export function namedFeatureId(properties: Record<string, unknown>): string | undefined {
  const value = properties.featureId;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * `properties.delta`: a finite number or a numeric string; absent means 1.
 * Returns `undefined` for a value that is neither (the gateway rejects those
 * with 400, so a consumer seeing one treats it as a bug, not as usage).
 */
export function parseDelta(value: unknown): number | undefined {
  if (value === undefined || value === null) return 1;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) {
    const parsed = Number(value.trim());
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}
