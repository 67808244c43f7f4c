import type { ReprocessMessage, RulesSnapshot, TrackMessage, UnmappedReason, UsageRecord } from '@kana/schemas';
import type { DeadLetter } from '@kana/platform';
import { resolveEvent, type FeatureHit } from './resolve';

// Turns one consumed batch into what must be stored, without I/O.

export type Incoming = { offset: string; value: TrackMessage } | { offset: string; value: ReprocessMessage };

export interface PlannedEvent {
  source: 'track' | 'reprocess';
  message: TrackMessage | ReprocessMessage;
  /**
   * Reprocess only: every job that republished this event in the batch. Two
   * jobs (one superseding the other) can send the same event close together;
   * it is stored once, and each job still gets its verdict.
   */
  jobIds: string[];
  rulesVersion: number;
  outcome: { mapped: true; delta: number; features: FeatureHit[] } | { mapped: false; reason: UnmappedReason };
}

/** An event as Postgres holds it after the batch's transaction, whatever this batch changed. */
export interface StoredEvent {
  status: 'new' | 'upgraded' | 'existing';
  mapped: boolean;
  reason: UnmappedReason | null;
  rulesVersion: number;
  /** The event time it was first stored with: a retry without a timestamp of its own got another one at the gateway. */
  eventTime: string;
  records: UsageRecord[];
}

export function eventKey(accountId: string, messageId: string): string {
  return `${accountId}\u0000${messageId}`;
}

/** Per account, the oldest snapshot version this batch may be evaluated against. */
export function snapshotNeeds(messages: readonly Incoming[]): Map<string, number> {
  const needs = new Map<string, number>();
  for (const { value } of messages) {
    const min = 'minRulesVersion' in value ? value.minRulesVersion : 0;
    const current = needs.get(value.accountId);
    if (current === undefined || min > current) needs.set(value.accountId, min);
  }
  return needs;
}

/**
 * A message seen twice in one batch (a Segment retry landing close to the
 * original, or two reprocess jobs republishing the same event) is planned
 * once: the stored outcome covers both, and every job among the copies is
 * kept so each gets its verdict. A bad delta is dead-lettered; everything
 * else is planned against its account's snapshot.
 */
export function planBatch(
  source: 'track' | 'reprocess',
  messages: readonly Incoming[],
  snapshots: ReadonlyMap<string, RulesSnapshot>,
): { planned: PlannedEvent[]; deadLetters: DeadLetter[] } {
  const planned: PlannedEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  const seen = new Map<string, PlannedEvent>();
  for (const { offset, value } of messages) {
    const key = eventKey(value.accountId, value.event.messageId);
    const earlier = seen.get(key);
    if (earlier) {
      if ('jobId' in value && !earlier.jobIds.includes(value.jobId)) earlier.jobIds.push(value.jobId);
      continue;
    }
    const snapshot = snapshots.get(value.accountId);
    if (!snapshot) throw new Error(`no rules snapshot for account ${value.accountId}: the batch must not be planned without one`);
    const resolution = resolveEvent(value.event, snapshot);
    if (resolution.kind === 'invalid') {
      deadLetters.push({ offset, reason: resolution.reason });
      continue;
    }
    const event: PlannedEvent = {
      source,
      message: value,
      jobIds: 'jobId' in value ? [value.jobId] : [],
      rulesVersion: snapshot.version,
      outcome: resolution.kind === 'mapped' ? { mapped: true, delta: resolution.delta, features: resolution.features } : { mapped: false, reason: resolution.reason },
    };
    seen.set(key, event);
    planned.push(event);
  }
  return { planned, deadLetters };
}
