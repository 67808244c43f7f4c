import type { ReprocessMessage, RulesSnapshot, TrackMessage, UnmappedReason, UsageRecord } from '@kana/schemas';
import type { DeadLetter } from '@kana/platform';
import { resolveEvent, type FeatureHit } from './resolve';

// Turns one consumed batch into what must be stored, without I/O.

export type Incoming = { offset: string; value: TrackMessage } | { offset: string; value: ReprocessMessage };

export interface PlannedEvent {
  source: 'track' | 'reprocess';
  message: TrackMessage | ReprocessMessage;
  jobId: string | null;
  rulesVersion: number;
  outcome: { mapped: true; delta: number; features: FeatureHit[] } | { mapped: false; reason: UnmappedReason };
}

/** An event as Postgres holds it after the batch's transaction, whatever this batch changed. */
export interface StoredEvent {
  status: 'new' | 'upgraded' | 'existing';
  mapped: boolean;
  reason: UnmappedReason | null;
  rulesVersion: number;
  records: UsageRecord[];
}

export function eventKey(accountId: string, messageId: string): string {
  return `${accountId}\u0000${messageId}`;
}

/** Per account, the oldest snapshot version this batch may be evaluated against. */
export function snapshotNeeds(messages: Incoming[]): Map<string, number> {
  const needs = new Map<string, number>();
  for (const { value } of messages) {
    const min = 'minRulesVersion' in value ? value.minRulesVersion : 0;
    needs.set(value.accountId, Math.max(needs.get(value.accountId) ?? 0, min));
  }
  return needs;
}

/**
 * A message seen twice in one batch (a Segment retry landing close to the
 * original) is planned once: the stored outcome covers both. A bad delta is
 * dead-lettered; everything else is planned against its account's snapshot.
 */
export function planBatch(
  source: 'track' | 'reprocess',
  messages: Incoming[],
  snapshots: ReadonlyMap<string, RulesSnapshot>,
): { planned: PlannedEvent[]; deadLetters: DeadLetter[] } {
  const planned: PlannedEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  const seen = new Set<string>();
  for (const { offset, value } of messages) {
    const key = eventKey(value.accountId, value.event.messageId);
    if (seen.has(key)) continue;
    const snapshot = snapshots.get(value.accountId);
    if (!snapshot) throw new Error(`no rules snapshot for account ${value.accountId}: the batch must not be planned without one`);
    const resolution = resolveEvent(value.event, snapshot);
    if (resolution.kind === 'invalid') {
      deadLetters.push({ offset, reason: resolution.reason });
      continue;
    }
    seen.add(key);
    planned.push({
      source,
      message: value,
      jobId: 'jobId' in value ? value.jobId : null,
      rulesVersion: snapshot.version,
      outcome: resolution.kind === 'mapped' ? { mapped: true, delta: resolution.delta, features: resolution.features } : { mapped: false, reason: resolution.reason },
    });
  }
  return { planned, deadLetters };
}
