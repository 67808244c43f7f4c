import { randomUUID } from 'node:crypto';
import { UnavailableError, httpError, inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { snapshotJson, type adminApi } from '@kana/schemas';
import { isTransientDbError } from './adapters/pg-errors';
import * as catalog from './adapters/pg-catalog';
import { startJob, type Job } from './adapters/pg-jobs';
import { selectionOf, type Change } from './domain/selection';
import type { SnapshotPublisher } from './snapshots';

/**
 * Every change of features or rules, in one transaction:
 *   bump the account's version (row lock: one change of an account at a time)
 *   → mutate → supersede walking jobs and start this change's job → commit;
 * then, outside it, publish the new snapshot to Redis (CAS).
 * A crash after the commit and before the publish, or a failed Redis write,
 * leaves Redis at the old version: the reprocess worker's sweep writes it
 * (the account's published_version is behind), the job's worker publishes it
 * before sending anything, and usage asks for a fresh one when a reprocessed
 * event needs the newer version.
 */
export class ChangeService {
  constructor(private readonly deps: { pool: Pool; snapshots: SnapshotPublisher }) {}

  async createFeature(accountId: string, input: adminApi.FeatureInput) {
    return this.apply(accountId, async (tx, version) => {
      const feature = await catalog.insertFeature(tx, accountId, input.id, input.name);
      if (!feature) throw httpError(409, `feature '${input.id}' already exists`);
      await requireSnapshotRoom(tx, accountId, version);
      return { result: feature, change: { kind: 'feature_created', featureId: input.id } };
    });
  }

  async deleteFeature(accountId: string, featureId: string) {
    return this.apply(accountId, async (tx) => {
      const users = await catalog.rulesUsingFeature(tx, accountId, featureId);
      if (users.length > 0) throw httpError(409, `feature '${featureId}' is used by rule(s) ${users.join(', ')}; delete or change them first`);
      if (!(await catalog.deleteFeature(tx, accountId, featureId))) throw httpError(404, `no feature '${featureId}'`);
      return { result: undefined, change: { kind: 'feature_deleted', featureId } };
    });
  }

  async createRule(accountId: string, input: adminApi.RuleInput) {
    return this.apply(accountId, async (tx, version) => {
      await requireFeature(tx, accountId, input.featureId);
      const rule = await catalog.insertRule(tx, accountId, randomUUID(), input, version);
      if (rule.enabled) await requireSnapshotRoom(tx, accountId, version);
      return { result: rule, change: { kind: 'rule_created', eventName: rule.eventName, enabled: rule.enabled } };
    });
  }

  async updateRule(accountId: string, ruleId: string, patch: adminApi.RulePatch) {
    return this.apply(accountId, async (tx, version) => {
      const current = await catalog.getRule(tx, accountId, ruleId, { forUpdate: true });
      if (!current) throw httpError(404, `no rule '${ruleId}'`);
      if (patch.featureId !== undefined) await requireFeature(tx, accountId, patch.featureId);
      const rule = await catalog.updateRule(tx, accountId, ruleId, { ...current, ...patch }, version);
      // Only a change that makes the snapshot larger can be refused: an account over the limit can always shrink.
      if (rule.enabled && snapshotEntryBytes(rule) > (current.enabled ? snapshotEntryBytes(current) : 0)) await requireSnapshotRoom(tx, accountId, version);
      return { result: rule, change: { kind: 'rule_updated', eventName: rule.eventName, enabled: rule.enabled } };
    });
  }

  async deleteRule(accountId: string, ruleId: string) {
    return this.apply(accountId, async (tx) => {
      const rule = await catalog.deleteRule(tx, accountId, ruleId);
      if (!rule) throw httpError(404, `no rule '${ruleId}'`);
      return { result: undefined, change: { kind: 'rule_deleted' } };
    });
  }

  private async apply<T>(
    accountId: string,
    work: (tx: PoolClient, version: number) => Promise<{ result: T; change: Change }>,
  ): Promise<{ result: T; version: number; job: Job }> {
    const outcome = await inTransaction(this.deps.pool, async (tx) => {
      const version = await catalog.bumpVersion(tx, accountId);
      const { result, change } = await work(tx, version);
      const job = await startJob(tx, accountId, version, selectionOf(change));
      return { result, version, job };
    }).catch((error: unknown) => {
      // Postgres away: 503 with Retry-After (nothing was committed), not a 500.
      throw isTransientDbError(error) ? new UnavailableError('the rules database is unavailable; retry shortly', error) : error;
    });
    await this.deps.snapshots.publishAfterChange(accountId);
    return outcome;
  }
}

/**
 * The most an account's rules snapshot (its features and enabled rules, as the JSON written to Redis) may take.
 * Usage reads it for its batches and keeps it in memory, and every change rebuilds it: without a bound one
 * account's catalog would slow every account's events. About 4,500 rules of two short conditions, or 15,000 features.
 */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024;

/** After a change that adds to the snapshot, in its transaction: refused (rolled back) when the snapshot would pass the limit. */
async function requireSnapshotRoom(tx: PoolClient, accountId: string, version: number): Promise<void> {
  const bytes = Buffer.byteLength(snapshotJson(await catalog.snapshotIn(tx, accountId, version)));
  if (bytes > MAX_SNAPSHOT_BYTES) {
    throw httpError(
      409,
      `the account's features and enabled rules would take ${bytes} bytes in the rules snapshot that usage maps events with; the limit is ${MAX_SNAPSHOT_BYTES} bytes (1 MiB): delete features or rules no longer needed, or shorten long 'in' lists`,
      'KANA_RULES_SNAPSHOT_LIMIT',
    );
  }
}

const snapshotEntryBytes = (rule: catalog.Rule): number =>
  Buffer.byteLength(JSON.stringify({ id: rule.id, featureId: rule.featureId, eventName: rule.eventName, conditions: rule.conditions }));

async function requireFeature(tx: PoolClient, accountId: string, featureId: string): Promise<void> {
  if (!(await catalog.featureExists(tx, accountId, featureId))) {
    throw httpError(400, `invalid rule field 'featureId': no feature '${featureId}'; create it with POST /v1/features first`);
  }
}
