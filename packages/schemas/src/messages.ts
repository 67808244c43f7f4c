import { z } from 'zod';
import { identifyEvent, isoInstant, trackEvent } from './segment';

// The value of every topic. The envelope carries what the gateway knew when it
// stored the event; schemaVersion lets consumers refuse what they cannot read.

export const SCHEMA_VERSION = 1;

const envelope = {
  schemaVersion: z.literal(SCHEMA_VERSION),
  accountId: z.string().min(1),
  requestId: z.string().min(1),
  receivedAt: isoInstant,
};

export const identifyMessage = z.object({ ...envelope, event: identifyEvent });
export type IdentifyMessage = z.infer<typeof identifyMessage>;

export const trackMessage = z.object({ ...envelope, event: trackEvent });
export type TrackMessage = z.infer<typeof trackMessage>;

/** A stored track event sent again by a reprocess job after a rules change. */
export const reprocessMessage = z.object({
  ...envelope,
  event: trackEvent,
  jobId: z.string().min(1),
  /** Usage must not evaluate this event against a rules snapshot older than this. */
  minRulesVersion: z.number().int().nonnegative(),
});
export type ReprocessMessage = z.infer<typeof reprocessMessage>;

export const unmappedReason = z.enum(['no_rule', 'unknown_feature']);
export type UnmappedReason = z.infer<typeof unmappedReason>;

/** A track event that mapped to no feature, for the rules service's unmapped store. */
export const unmappedMessage = z.object({
  ...envelope,
  event: trackEvent,
  reason: unmappedReason,
  rulesVersion: z.number().int().nonnegative(),
  jobId: z.string().nullable(),
});
export type UnmappedMessage = z.infer<typeof unmappedMessage>;

/** Usage's outcome for one reprocessed event and one job that sent it. */
export const reprocessVerdict = z.object({
  /** The job's address for the event, as the reprocess message carried it. */
  jobId: z.string().min(1),
  messageId: z.string().min(1),
  mapped: z.boolean(),
  rulesVersion: z.number().int().nonnegative(),
});
export type ReprocessVerdict = z.infer<typeof reprocessVerdict>;

/** At most this many verdicts in one message (~100 bytes each): far below the broker's 1 MB per message. */
export const MAX_VERDICTS_PER_MESSAGE = 1_000;

/**
 * Outcomes of reprocessed events of one account, so the rules service can track job progress and prune its
 * unmapped store: usage sends the verdicts of a batch together (`verdicts`), one message per account and
 * batch instead of one per event, which was a third of a replay's Kafka messages. Usage before that sent one
 * verdict per message in the top-level fields; they stay optional and readable, so verdicts still in the
 * topic when usage is upgraded count (and the registry accepts this schema as a backward-compatible version).
 */
export const reprocessedMessage = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    accountId: z.string().min(1),
    verdicts: z.array(reprocessVerdict).min(1).max(MAX_VERDICTS_PER_MESSAGE).optional(),
    jobId: z.string().min(1).optional(),
    messageId: z.string().min(1).optional(),
    userId: z.string().min(1).optional(),
    mapped: z.boolean().optional(),
    rulesVersion: z.number().int().nonnegative().optional(),
  })
  .refine(
    (value) => {
      const single = [value.jobId, value.messageId, value.mapped, value.rulesVersion].filter((field) => field !== undefined).length;
      return value.verdicts ? single === 0 && value.userId === undefined : single === 4;
    },
    { message: 'either verdicts, or one verdict as jobId, messageId, mapped and rulesVersion' },
  );
export type ReprocessedMessage = z.infer<typeof reprocessedMessage>;

/** The verdicts a message carries, in either form. */
export function verdictsOf(message: ReprocessedMessage): ReprocessVerdict[] {
  if (message.verdicts) return message.verdicts;
  const { jobId, messageId, mapped, rulesVersion } = message;
  return [{ jobId: jobId!, messageId: messageId!, mapped: mapped!, rulesVersion: rulesVersion! }];
}

export const usageRecord = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  /** Deterministic: derived from (accountId, messageId, featureId), see usageRecordId. */
  id: z.string().min(1),
  accountId: z.string().min(1),
  userId: z.string().min(1),
  featureId: z.string().min(1),
  delta: z.number(),
  messageId: z.string().min(1),
  ruleId: z.string().nullable(),
  timestamp: isoInstant,
  recordedAt: isoInstant,
});
export type UsageRecord = z.infer<typeof usageRecord>;

export const userRef = z.object({ id: z.string().min(1), userId: z.string().nullable() });
export type UserRef = z.infer<typeof userRef>;

/** What identity tells the others about users; usage follows merges from it. */
export const identityChange = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  accountId: z.string().min(1),
  kind: z.enum(['created', 'updated', 'merged', 'deleted']),
  user: userRef,
  /** For `merged`: the user that was merged away (`user` is the survivor). */
  from: userRef.nullable(),
  at: isoInstant,
});
export type IdentityChange = z.infer<typeof identityChange>;

/** A message that could not be decoded or handled; the value is the original bytes, the reason is in headers. */
export const DLQ_HEADERS = {
  sourceTopic: 'kana-source-topic',
  sourcePartition: 'kana-source-partition',
  sourceOffset: 'kana-source-offset',
  error: 'kana-error',
} as const;
