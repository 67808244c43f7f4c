import type { Pool } from '@kana/platform';
import type { adminApi } from '@kana/schemas';
import { propertiesByEventName, storedByMessageIds, type Position, type StoredEvent } from './adapters/pg-unmapped-store';
import { ruleMatches } from './domain/matcher';

export const SAMPLE_SIZE = 10;

/** The shape of an unmapped event in the admin API. */
export function toApiEvent(stored: StoredEvent): adminApi.UnmappedEvent {
  return {
    messageId: stored.messageId,
    userId: stored.userId,
    event: stored.event.event,
    properties: stored.event.properties,
    timestamp: stored.event.timestamp,
    reason: stored.reason,
  };
}

/**
 * How many stored unmapped events a draft rule would map. Conditions are
 * evaluated with the same matcher as usage (not translated to SQL, where
 * numeric strings and type mismatches would behave differently), over the
 * events of that name in pages, oldest first, so the count is exact, never an
 * estimate. An account can have millions of them: when the deadline (under the
 * gateway's timeout for admin calls) comes first, the answer is the exact count
 * among the events scanned so far, and says so (`complete: false`, `scanned`),
 * rather than no answer at all.
 */
export class PreviewService {
  constructor(
    private readonly config: { pageSize: number; deadlineMs: number },
    private readonly deps: { pool: Pool },
  ) {}

  async preview(accountId: string, draft: adminApi.PreviewInput): Promise<adminApi.PreviewAnswer> {
    const deadline = performance.now() + this.config.deadlineMs;
    let matchingUnmapped = 0;
    let scanned = 0;
    const sampleIds: string[] = [];
    let after: Position | undefined;
    let complete = false;
    while (!complete && performance.now() < deadline) {
      const page = await propertiesByEventName(this.deps.pool, accountId, draft.eventName, this.config.pageSize, after);
      for (const { position, properties } of page) {
        if (!ruleMatches(draft, { event: draft.eventName, properties })) continue;
        matchingUnmapped++;
        if (sampleIds.length < SAMPLE_SIZE) sampleIds.push(position.messageId);
      }
      scanned += page.length;
      complete = page.length < this.config.pageSize;
      after = page[page.length - 1]?.position;
    }
    const sample = await storedByMessageIds(this.deps.pool, accountId, sampleIds);
    return { matchingUnmapped, sample: sample.map(toApiEvent), complete, scanned };
  }
}
