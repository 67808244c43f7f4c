import { z } from 'zod';

// The admin API of API.md as zod schemas. The gateway forwards these routes to
// the owning services, which validate the bodies; these schemas describe the
// contract for /openapi.json. (They belong in packages/schemas once the
// services validate with them too.)

const cursorPage = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });
const limit = z.coerce.number().int().min(1).max(1000).optional().describe('Default 50, at most 1000');
const cursor = z.string().optional().describe('Opaque cursor from the previous page');
const from = z.string().optional().describe('Event time, inclusive (ISO-8601)');
const to = z.string().optional().describe('Event time, exclusive (ISO-8601)');

export const user = z.object({
  id: z.string(),
  userId: z.string().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  billingId: z.string().nullable(),
  billingProvider: z.enum(['stripe', 'chargebee']).nullable(),
  source: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const feature = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });

export const condition = z.object({
  property: z.string().describe('Dot path into properties'),
  operator: z.enum(['eq', 'neq', 'exists', 'not_exists', 'contains', 'in', 'gt', 'gte', 'lt', 'lte']),
  value: z.unknown().optional(),
});

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

export const ruleInput = z.object({ featureId: z.string(), eventName: z.string(), conditions: z.array(condition) });

export const unmappedEvent = z.object({
  messageId: z.string(),
  userId: z.string(),
  event: z.string(),
  properties: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
  reason: z.enum(['no_rule', 'unknown_feature']),
});

export const reprocessJob = z.object({
  id: z.string(),
  status: z.enum(['running', 'done', 'superseded', 'failed']),
  total: z.number().int(),
  processed: z.number().int(),
  mapped: z.number().int(),
});

export const usageRecordView = z.object({
  id: z.string(),
  userId: z.string(),
  featureId: z.string(),
  delta: z.number(),
  messageId: z.string(),
  ruleId: z.string().nullable(),
  timestamp: z.string(),
});

export const schemas = {
  usersPage: cursorPage(user),
  attention: z.object({
    missingBillingId: z.array(user),
    sharedEmails: z.array(z.object({ email: z.string(), users: z.array(user) })),
    issues: z.array(z.object({ userId: z.string().nullable(), kind: z.string(), detail: z.string(), at: z.string() })),
  }),
  mergeInput: z.object({ intoId: z.string() }),
  importInput: z.object({ customers: z.array(z.object({ id: z.string(), email: z.string().nullable().optional(), name: z.string().nullable().optional() })) }),
  importAnswer: z.object({ imported: z.number().int(), merged: z.number().int(), skipped: z.number().int() }),
  featureInput: z.object({ id: z.string(), name: z.string() }),
  featureList: cursorPage(feature),
  ruleList: cursorPage(rule),
  rulePatch: ruleInput.partial().extend({ enabled: z.boolean().optional() }),
  previewAnswer: z.object({ matchingUnmapped: z.number().int(), sample: z.array(unmappedEvent) }),
  unmappedPage: cursorPage(unmappedEvent),
  jobList: cursorPage(reprocessJob),
  usageTotals: cursorPage(z.object({ userId: z.string(), featureId: z.string(), total: z.number() })),
  usageRecordsPage: cursorPage(usageRecordView),
  usersQuery: z.object({ userId: z.string().optional(), email: z.string().optional(), limit, cursor }),
  unmappedQuery: z.object({ eventName: z.string().optional(), userId: z.string().optional(), limit, cursor }),
  pageQuery: z.object({ limit, cursor }),
  usageQuery: z.object({ userId: z.string().optional(), featureId: z.string().optional(), from, to, limit, cursor }),
  usageRecordsQuery: z.object({ userId: z.string().optional(), featureId: z.string().optional(), from, to, limit, cursor }),
  idParam: z.object({ id: z.string() }),
};
