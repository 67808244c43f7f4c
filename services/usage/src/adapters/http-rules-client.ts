import { rulesSnapshot, type RulesSnapshot } from '@kana/schemas';
import { UnavailableError } from '@kana/platform';

/**
 * The rules service's internal endpoint: it answers the account's current
 * snapshot (version 0 and empty lists for an account without rules) and
 * reseeds Redis with it. Any failure is retriable: usage waits for the rules
 * rather than guessing that an account has none.
 */
export class HttpRulesClient {
  constructor(private readonly config: { rulesUrl: string; timeoutMs: number }) {}

  async fetchSnapshot(accountId: string): Promise<RulesSnapshot> {
    const url = `${this.config.rulesUrl.replace(/\/$/, '')}/internal/accounts/${encodeURIComponent(accountId)}/rules-snapshot`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.config.timeoutMs) });
    } catch (error) {
      throw new UnavailableError(`rules service unreachable for the snapshot of account ${accountId}`, error);
    }
    if (!response.ok) {
      throw new UnavailableError(`rules service answered ${response.status} for the snapshot of account ${accountId}`);
    }
    const parsed = rulesSnapshot.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success || parsed.data.accountId !== accountId) {
      throw new UnavailableError(`rules service sent an invalid snapshot for account ${accountId}`);
    }
    return parsed.data;
  }
}
