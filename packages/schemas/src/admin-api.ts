import { z } from 'zod';
import { billingProviderOf, MAX_NAME_LENGTH, normalizeEmail, STRIPE_ID_RULE } from './identity-fields';
import { asNumber } from './match';
import { condition, conditionOf, featureIdSchema, OPERATORS, type Condition } from './rules';

// The admin API of API.md: the schemas its routes validate requests with, in
// the services that own them, and the shapes those routes answer (the
// services' answers are typed by them). The gateway generates /openapi.json
// from this module, so the published contract is what the routes check.

// ---- lists

/** `limit` defaults to 50; more than 1000 is capped (API.md), nonsense is a 400 naming the field. */
const LIMIT_RULE = 'must be a whole number of at least 1 (more than 1000 is capped at 1000)';
export const limit = z.coerce
  .number({ error: LIMIT_RULE })
  .int(LIMIT_RULE)
  .min(1, LIMIT_RULE)
  .default(50)
  .transform((value) => Math.min(value, 1000))
  .describe('Default 50; more than 1000 is capped at 1000');
/** Empty means the first page, so a client may send `cursor=` before it has one. */
export const cursor = z
  .string()
  .max(2000)
  .optional()
  .transform((value) => value || undefined)
  .describe('Opaque: nextCursor of the previous page');
export const pageQuery = z.object({ limit, cursor });
/** A filter by an id or name in a query string. */
const optionalText = z.string().min(1).max(512).optional();
const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable().describe('null on the last page') });

// ---- users (identity service)

export const MAX_IMPORT_CUSTOMERS = 10_000;

export const usersQuery = z.object({ userId: z.string().min(1).optional(), email: z.string().min(1).optional(), limit, cursor });
export const userIdParams = z.object({ id: z.string() });
export const mergeBody = z.object({ intoId: z.string({ error: 'is required: the id of the user to merge into' }).min(1) });

const customer = z.object({
  id: z.string({ error: 'is required' }).refine((id) => billingProviderOf(id) === 'stripe', `must be a Stripe customer id: ${STRIPE_ID_RULE}`),
  email: z
    .string()
    .nullish()
    .refine((email) => !email?.trim() || normalizeEmail(email) !== undefined, 'is not an email address'),
  name: z.string().max(MAX_NAME_LENGTH).nullish(),
});

export const importBody = z.object({
  customers: z
    .array(customer, { error: 'must be an array of { id, email, name }' })
    .min(1, 'must not be empty')
    .max(MAX_IMPORT_CUSTOMERS, `holds at most ${MAX_IMPORT_CUSTOMERS} customers per request`),
});

export const user = z.object({
  id: z.string().describe("Kana's id"),
  userId: z.string().nullable().describe("The customer's id; null for imports"),
  email: z.string().nullable(),
  name: z.string().nullable(),
  billingId: z.string().nullable(),
  billingProvider: z.enum(['stripe', 'chargebee']).nullable(),
  source: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const usersPage = page(user);
export const attention = z.object({
  missingBillingId: z.array(user),
  sharedEmails: z.array(z.object({ email: z.string(), users: z.array(user) })),
  issues: z.array(z.object({ userId: z.string().nullable(), kind: z.string(), detail: z.string(), at: z.string() })),
  nextCursor: z.string().nullable().describe('Continues every list that has more (the others answer []); null once all are read'),
});
export const importAnswer = z.object({ imported: z.number().int(), merged: z.number().int(), skipped: z.number().int() });

// ---- features and rules (rules service)
// The value is typed to the operator here, so usage never sees a rule it cannot
// evaluate (e.g. `gt` against "abc", or `in` without a list).

export const MAX_CONDITIONS = 20;
export const MAX_IN_VALUES = 100;
export const MAX_STRING_VALUE = 1024;

const propertyPath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^.]+(\.[^.]+)*$/, 'a dot path into properties, like "plan" or "plan.tier" (no empty segments)');

const scalarValue = z.union([z.string().max(MAX_STRING_VALUE), z.number().finite(), z.boolean()]);

const conditionInput = z
  .object({
    property: propertyPath,
    operator: z.enum(OPERATORS, { error: `one of ${OPERATORS.join(', ')}` }),
    value: z.unknown().optional().describe('Typed to the operator: none for exists/not_exists, a list for in, a number for gt/gte/lt/lte'),
  })
  .strict()
  .superRefine((condition, ctx) => {
    const problem = valueProblem(condition.operator, condition.value);
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  })
  // Checked by valueProblem above, so the value is one a Condition holds.
  .transform((condition): Condition => conditionOf(condition as Condition));

function valueProblem(operator: (typeof OPERATORS)[number], value: unknown): string | undefined {
  switch (operator) {
    case 'exists':
    case 'not_exists':
      return value === undefined ? undefined : `operator ${operator} takes no value; omit it`;
    case 'eq':
    case 'neq':
    case 'contains':
      return scalarValue.safeParse(value).success ? undefined : `operator ${operator} needs a string (at most ${MAX_STRING_VALUE} characters), number or boolean`;
    case 'in':
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) return `operator in needs a list of 1 to ${MAX_IN_VALUES} values`;
      return value.every((item) => scalarValue.safeParse(item).success) ? undefined : 'operator in takes strings, numbers or booleans only';
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value !== 'boolean' && asNumber(value) !== undefined ? undefined : `operator ${operator} needs a number or a numeric string`;
  }
}

const conditions = z.array(conditionInput).max(MAX_CONDITIONS, `at most ${MAX_CONDITIONS} conditions`);
const eventName = z.string().min(1).max(512);

export const featureInput = z.object({ id: featureIdSchema, name: z.string().trim().min(1).max(200) }).strict();
export type FeatureInput = z.infer<typeof featureInput>;

export const ruleInput = z
  .object({ featureId: featureIdSchema, eventName, conditions: conditions.default([]), enabled: z.boolean().default(true) })
  .strict();
export type RuleInput = z.infer<typeof ruleInput>;

/** The draft of POST /v1/rules/preview: what would be saved, never `enabled`. */
export const previewInput = z.object({ featureId: featureIdSchema, eventName, conditions: conditions.default([]) }).strict();
export type PreviewInput = z.infer<typeof previewInput>;

export const rulePatch = z
  .object({ featureId: featureIdSchema, eventName, conditions, enabled: z.boolean() })
  .partial()
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one of featureId, eventName, conditions, enabled');
export type RulePatch = z.infer<typeof rulePatch>;

/** A feature's or rule's id in a path. */
export const catalogIdParams = z.object({ id: z.string().min(1).max(128) });

export const feature = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });
export const featuresPage = page(feature);
export const rule = z.object({
  id: z.string(),
  featureId: z.string(),
  eventName: z.string(),
  conditions: z.array(condition),
  enabled: z.boolean(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const rulesPage = page(rule);

// ---- unmapped events and reprocess jobs (rules service)

export const unmappedQuery = z.object({ eventName: optionalText, userId: optionalText, limit, cursor });

export const unmappedEvent = z.object({
  messageId: z.string(),
  userId: z.string(),
  event: z.string(),
  properties: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
  reason: z.enum(['no_rule', 'unknown_feature']),
});
export const unmappedPage = page(unmappedEvent);
export const previewAnswer = z.object({
  matchingUnmapped: z.number().int().describe('how many of the scanned stored unmapped events the rule would map: exact, never an estimate'),
  sample: z.array(unmappedEvent),
  complete: z.boolean().describe('false when the preview stopped at its deadline (an account with millions of events of this name): matchingUnmapped then counts the oldest `scanned` of them'),
  scanned: z.number().int().describe('stored unmapped events of this name looked at'),
});

export const reprocessJob = z.object({
  id: z.string(),
  status: z.enum(['running', 'done', 'superseded', 'failed']),
  total: z.number().int(),
  processed: z.number().int(),
  mapped: z.number().int(),
  rulesVersion: z.number().int().describe('The rules version the job maps with'),
  createdAt: z.string(),
});
export const reprocessJobsPage = page(reprocessJob);

// ---- usage (usage service). Time ranges are over event time: from inclusive, to exclusive.

const instant = z.iso.datetime({ offset: true, message: 'an ISO-8601 timestamp such as 2026-01-31T00:00:00Z' });

export const usageRecordsQuery = z.object({
  userId: optionalText,
  featureId: optionalText,
  from: instant.optional().describe('Event time, inclusive'),
  to: instant.optional().describe('Event time, exclusive'),
  limit,
  cursor,
});
export const usageQuery = usageRecordsQuery.refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: 'must not be before from', path: ['to'] });

export const usageTotal = z.object({ userId: z.string(), featureId: z.string(), total: z.number() });
export const usageTotalsPage = page(usageTotal);
export const usageRecord = z.object({
  id: z.string(),
  userId: z.string(),
  featureId: z.string(),
  delta: z.number(),
  messageId: z.string(),
  ruleId: z.string().nullable(),
  timestamp: z.string(),
});
export const usageRecordsPage = page(usageRecord);

// What the services answer, typed by the shapes above (the compiler holds them to the contract).
export type Page<T> = { data: T[]; nextCursor: string | null };
export type User = z.output<typeof user>;
export type Attention = z.output<typeof attention>;
export type ImportAnswer = z.output<typeof importAnswer>;
export type Feature = z.output<typeof feature>;
export type Rule = z.output<typeof rule>;
export type UnmappedEvent = z.output<typeof unmappedEvent>;
export type PreviewAnswer = z.output<typeof previewAnswer>;
export type ReprocessJob = z.output<typeof reprocessJob>;
export type UsageTotal = z.output<typeof usageTotal>;
export type UsageRecord = z.output<typeof usageRecord>;
