import { z } from 'zod';
import { httpError, parseOr400, requireAccountId, type FastifyInstance } from '@kana/platform';
import type { PgUsageQueries } from '../adapters/pg-usage-queries';

const instant = z.iso.datetime({ offset: true, message: 'an ISO-8601 timestamp such as 2026-01-31T00:00:00Z' });
const optionalText = z.string().min(1).max(512).optional();

const usageQuery = z
  .object({ userId: optionalText, featureId: optionalText, from: instant.optional(), to: instant.optional() })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: 'must not be before from', path: ['to'] });

const recordsQuery = z.object({
  userId: optionalText,
  featureId: optionalText,
  from: instant.optional(),
  to: instant.optional(),
  // Capped rather than refused: asking for more than a page holds is not an error.
  limit: z.coerce.number().int().min(1).default(50).transform((limit) => Math.min(limit, 1000)),
  cursor: z.string().max(500).optional(),
});

const cursorShape = z.object({ t: z.string(), id: z.uuid() });

export function encodeCursor(next: { eventTime: string; id: string }): string {
  return Buffer.from(JSON.stringify({ t: next.eventTime, id: next.id })).toString('base64url');
}

function decodeCursor(cursor: string): { eventTime: string; id: string } {
  try {
    const parsed = cursorShape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (Number.isNaN(Date.parse(parsed.t))) throw new Error('bad time');
    return { eventTime: parsed.t, id: parsed.id };
  } catch {
    throw httpError(400, "invalid query field 'cursor': pass the nextCursor of the previous page unchanged");
  }
}

/** Usage totals and records, scoped to the account the gateway authenticated. Time ranges are over event time: from inclusive, to exclusive. */
export function usageRoutes(deps: { queries: PgUsageQueries }) {
  return async function registerUsageRoutes(app: FastifyInstance): Promise<void> {
    app.get('/v1/usage', async (request) => {
      const accountId = requireAccountId(request);
      const query = parseOr400(usageQuery, request.query, 'query');
      return { data: await deps.queries.totals({ accountId, ...query }) };
    });

    app.get('/v1/usage/records', async (request) => {
      const accountId = requireAccountId(request);
      const { limit, cursor, ...filter } = parseOr400(recordsQuery, request.query, 'query');
      const page = await deps.queries.records({ accountId, ...filter }, limit, cursor ? decodeCursor(cursor) : null);
      return { data: page.data, nextCursor: page.next ? encodeCursor(page.next) : null };
    });
  };
}
