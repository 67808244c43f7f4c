import { z } from 'zod';

// Features, mapping rules and the per-account snapshot usage evaluates.

export const OPERATORS = ['eq', 'neq', 'exists', 'not_exists', 'contains', 'in', 'gt', 'gte', 'lt', 'lte'] as const;
export type Operator = (typeof OPERATORS)[number];

export const featureIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, and . _ : - (at most 128, starting with a letter or digit)');

export const scalar = z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]);
export type Scalar = z.infer<typeof scalar>;

export const condition = z.object({
  property: z.string().min(1).max(256),
  operator: z.enum(OPERATORS),
  value: z.union([scalar, z.array(scalar).max(100)]).optional(),
});
export type Condition = z.infer<typeof condition>;

/**
 * A condition as the API writes it: keys in the order { property, operator, value }, and no `value`
 * key when it has none (exists, not_exists). For what a request sent and for what jsonb gives back
 * (which keeps an object's keys shortest first).
 */
export const conditionOf = ({ property, operator, value }: Condition): Condition => (value === undefined ? { property, operator } : { property, operator, value });

export const snapshotFeature = z.object({ id: featureIdSchema, name: z.string() });
export type SnapshotFeature = z.infer<typeof snapshotFeature>;

export const snapshotRule = z.object({
  id: z.string().min(1),
  featureId: featureIdSchema,
  eventName: z.string().min(1),
  conditions: z.array(condition),
});
export type SnapshotRule = z.infer<typeof snapshotRule>;

/** Stored in Redis at `rules:{accountId}`; only enabled rules are included. */
export const rulesSnapshot = z.object({
  accountId: z.string().min(1),
  version: z.number().int().nonnegative(),
  features: z.array(snapshotFeature),
  rules: z.array(snapshotRule),
});
export type RulesSnapshot = z.infer<typeof rulesSnapshot>;

export function rulesSnapshotKey(accountId: string, prefix = ''): string {
  return `${prefix}rules:${accountId}`;
}

/**
 * A snapshot as stored in Redis: account and version first, whatever object the caller built, so that
 * Redis scripts read the version from the value's first bytes (SNAPSHOT_VERSION_LUA) and never decode
 * or send the rest of a snapshot that may take up to a megabyte.
 */
export function snapshotJson(snapshot: RulesSnapshot): string {
  return JSON.stringify({ accountId: snapshot.accountId, version: snapshot.version, features: snapshot.features, rules: snapshot.rules });
}

/** `string.match(redis.call('GETRANGE', key, 0, SNAPSHOT_HEAD_BYTES - 1), SNAPSHOT_VERSION_LUA)`: the stored version, or nil for a value of another shape. */
export const SNAPSHOT_VERSION_LUA = '^{"accountId":"[^"]*","version":(%d+),';
export const SNAPSHOT_HEAD_BYTES = 256;
