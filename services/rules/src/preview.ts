import type { Pool } from '@kana/platform';
import type { adminApi } from '@kana/schemas';
import { pageByEventName, type Position, type StoredEvent } from './adapters/pg-unmapped-store';
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
 * events of that name in pages, so the count is exact, never an estimate.
 */
export class PreviewService {
  constructor(
    private readonly config: { pageSize: number },
    private readonly deps: { pool: Pool },
  ) {}

  async preview(accountId: string, draft: adminApi.PreviewInput): Promise<adminApi.PreviewAnswer> {
    let matchingUnmapped = 0;
    const sample: ReturnType<typeof toApiEvent>[] = [];
    let after: Position | undefined;
    for (;;) {
      const page = await pageByEventName(this.deps.pool, accountId, draft.eventName, this.config.pageSize, after);
      for (const stored of page) {
        if (!ruleMatches(draft, stored.event)) continue;
        matchingUnmapped++;
        if (sample.length < SAMPLE_SIZE) sample.push(toApiEvent(stored));
      }
      if (page.length < this.config.pageSize) break;
      after = page[page.length - 1];
    }
    return { matchingUnmapped, sample };
  }
}
