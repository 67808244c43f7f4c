import { z } from 'zod';

// The public ingest contract as zod schemas: the OpenAPI document is generated
// from these, and the route tests check the routes answer in these shapes.

export const errorBody = z.object({ message: z.string().describe('What was wrong: names the field or the reason') });

export const okBody = z.object({ message: z.literal('ok') });

export const batchAnswer = z.object({
  accepted: z.number().int().nonnegative().describe('Events stored (acks=all)'),
  rejected: z.array(z.object({ index: z.number().int().nonnegative(), message: z.string() })).describe('Events not stored and why'),
});

/**
 * One event as senders write it. Top-level names are matched without case,
 * `_` or `-` (`userId`, `user_id`, `UserId`...); the gateway then validates it
 * into the canonical `identify`/`track` event of @kana/schemas.
 */
const ID_LIMITS = 'at most 512 characters and 1024 bytes of UTF-8, without U+0000 or half a surrogate pair';

export const segmentInput = z
  .object({
    type: z.enum(['identify', 'track']).describe('page, screen, group and alias answer 501'),
    userId: z.union([z.string(), z.number()]).describe(`Required; placeholders such as "anonymous", "null", "0" are refused; ${ID_LIMITS}`),
    anonymousId: z.string().optional().describe(ID_LIMITS),
    messageId: z.string().optional().describe(`Derived from the content when missing, so a retry deduplicates; ${ID_LIMITS}`),
    timestamp: z.union([z.string(), z.number()]).optional().describe('ISO-8601, or epoch milliseconds (a number below 1e11 is read as epoch seconds); defaults to the time received'),
    sentAt: z.string().optional(),
    event: z.string().optional().describe(`Required for track; ${ID_LIMITS}`),
    properties: z
      .object({
        featureId: z.string().optional(),
        delta: z.union([z.number(), z.string()]).optional().describe('Finite number or numeric string; default 1'),
      })
      .catchall(z.unknown())
      .optional(),
    traits: z.record(z.string(), z.unknown()).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
    integrations: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .describe('A Segment event of at most 32 KB. U+0000 and half surrogate pairs in properties, traits, context and integrations are stored as U+FFFD');

/** /v1/identify and /v1/track (the HTTP Tracking API's calls): the route implies the type. */
const routeTyped = (type: 'identify' | 'track') =>
  segmentInput.extend({ type: z.literal(type).optional().describe(`Implied by the route; when sent, it must be ${type}`) });
export const identifyInput = routeTyped('identify');
export const trackInput = routeTyped('track');

export const batchInput = z.object({
  batch: z.array(segmentInput).min(1),
  context: z.record(z.string(), z.unknown()).optional().describe('Applied to every event, under its own context'),
  integrations: z.record(z.string(), z.unknown()).optional(),
  sentAt: z.string().optional(),
});
