import { rulesSnapshot, rulesSnapshotKey, SNAPSHOT_HEAD_BYTES, SNAPSHOT_VERSION_LUA, type RulesSnapshot } from '@kana/schemas';
import { UnavailableError, counter, type Logger, type Redis, type Registry } from '@kana/platform';

import type { HttpRulesClient } from './http-rules-client';

/** What the read script answers for an account whose stored snapshot is at the version usage already has. */
const UNCHANGED = '=';

/**
 * KEYS: the accounts' snapshot keys; ARGV: the version usage holds of each ('' for none). The version is read
 * from the value's first bytes (GETRANGE: the rules service stores snapshotJson, and a snapshot's content
 * never changes within a version), so an unchanged snapshot never leaves Redis. A value
 * that does not start that way is answered whole, as is every changed one; '' when there is none.
 */
const READ_SCRIPT = `
local answers = {}
for i, key in ipairs(KEYS) do
  local version = string.match(redis.call('GETRANGE', key, 0, ${SNAPSHOT_HEAD_BYTES - 1}), '${SNAPSHOT_VERSION_LUA}')
  if version ~= nil and version == ARGV[i] then
    answers[i] = '${UNCHANGED}'
  else
    answers[i] = redis.call('GET', key) or ''
  end
end
return answers
`;

type ScriptRedis = Redis & { rulesSnapshotsIfChanged(keys: number, ...keysThenVersions: string[]): Promise<string[]> };

interface Cached {
  raw: string;
  snapshot: RulesSnapshot;
}

/**
 * Rules snapshots for a batch, at most one Redis round trip per batch.
 *
 * One script call reads every account of the batch: an account whose stored
 * snapshot is at the version cached in process comes back as UNCHANGED
 * without its value (a snapshot of 1 MiB cost usage ~3.7 ms of CPU a batch to
 * receive and compare), any other as its stored value; a value equal to the
 * one cached is still reused without parsing. A miss (Redis keeps
 * nothing on disk, so a restart empties it), an unreadable value or a version
 * older than a reprocessed event requires asks the rules service, which also
 * reseeds Redis. When neither has a snapshot the batch fails with a retriable
 * error: an event is never marked unmapped for want of rules.
 *
 * Versions only go forward: a Redis value older than the one cached here is
 * ignored (the rules service compares-and-sets, so this only happens while a
 * stale writer races it).
 */
export class RuleSnapshots {
  private readonly cache = new Map<string, Cached>();
  private readonly redisCalls;
  private readonly fetches;

  private readonly redis: ScriptRedis;

  constructor(
    private readonly deps: { redis: Redis; rules: HttpRulesClient; logger: Logger; metrics: Registry },
  ) {
    if (!('rulesSnapshotsIfChanged' in deps.redis)) deps.redis.defineCommand('rulesSnapshotsIfChanged', { lua: READ_SCRIPT });
    this.redis = deps.redis as ScriptRedis;
    this.redisCalls = counter(deps.metrics, { name: 'kana_usage_redis_round_trips_total', help: 'Redis round trips for rules snapshots' });
    this.fetches = counter(deps.metrics, { name: 'kana_usage_rules_fetches_total', help: 'Snapshots fetched from the rules service', labelNames: ['outcome'] });
  }

  /** `needs`: account → the oldest acceptable version. */
  async forBatch(needs: ReadonlyMap<string, number>): Promise<Map<string, RulesSnapshot>> {
    const accounts = [...needs.keys()];
    const result = new Map<string, RulesSnapshot>();
    if (accounts.length === 0) return result;
    const raws = await this.readRedis(accounts);
    const missing: string[] = [];
    accounts.forEach((accountId, index) => {
      const snapshot = this.fromRedis(accountId, raws?.[index] ?? null);
      if (snapshot && snapshot.version >= needs.get(accountId)!) result.set(accountId, snapshot);
      else missing.push(accountId);
    });
    await Promise.all(
      missing.map(async (accountId) => {
        const snapshot = await this.fetch(accountId);
        const required = needs.get(accountId)!;
        if (snapshot.version < required) {
          throw new UnavailableError(`rules snapshot of account ${accountId} is at version ${snapshot.version}, a reprocessed event needs ${required}`);
        }
        result.set(accountId, snapshot);
      }),
    );
    return result;
  }

  private async readRedis(accounts: string[]): Promise<(string | null)[] | undefined> {
    this.redisCalls.inc();
    try {
      const versions = accounts.map((accountId) => String(this.cache.get(accountId)?.snapshot.version ?? ''));
      const values = await this.redis.rulesSnapshotsIfChanged(accounts.length, ...accounts.map((accountId) => rulesSnapshotKey(accountId)), ...versions);
      return values.map((value) => (value === '' ? null : value));
    } catch (error) {
      // The rules service can still answer; if it cannot either, the batch is retried.
      this.deps.logger.warn({ err: error }, 'redis unavailable for rules snapshots; asking the rules service');
      return undefined;
    }
  }

  private fromRedis(accountId: string, raw: string | null): RulesSnapshot | undefined {
    if (raw === null) return undefined;
    const cached = this.cache.get(accountId);
    if (raw === UNCHANGED && cached) return cached.snapshot;
    if (cached?.raw === raw) return cached.snapshot;
    let parsed: ReturnType<typeof rulesSnapshot.safeParse>;
    try {
      parsed = rulesSnapshot.safeParse(JSON.parse(raw));
    } catch {
      parsed = rulesSnapshot.safeParse(undefined);
    }
    if (!parsed.success || parsed.data.accountId !== accountId) {
      this.deps.logger.error({ accountId }, 'unreadable rules snapshot in redis; asking the rules service');
      return undefined;
    }
    if (cached && cached.snapshot.version > parsed.data.version) return cached.snapshot;
    this.cache.set(accountId, { raw, snapshot: parsed.data });
    return parsed.data;
  }

  private async fetch(accountId: string): Promise<RulesSnapshot> {
    try {
      const snapshot = await this.deps.rules.fetchSnapshot(accountId);
      this.fetches.inc({ outcome: 'ok' });
      const cached = this.cache.get(accountId);
      if (cached && cached.snapshot.version > snapshot.version) return cached.snapshot;
      this.cache.set(accountId, { raw: '', snapshot });
      return snapshot;
    } catch (error) {
      this.fetches.inc({ outcome: 'failed' });
      throw error;
    }
  }
}
