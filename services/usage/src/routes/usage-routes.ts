import { z } from 'zod';
import { decodeCursor, encodeCursor, parseOr400, requireAccountId, type FastifyInstance } from '@kana/platform';
import type { PgUsageQueries } from '../adapters/pg-usage-queries';

const instant = z.iso.datetime({ offset: true, message: 'an ISO-8601 timestamp such as 2026-01-31T00:00:00Z' });
const optionalText = z.string().min(1).max(512).optional();

// Capped rather than refused: asking for more than a page holds is not an error.
const limit = z.coerce.number().int().min(1).default(50).transform((value) => Math.min(value, 1000));
const cursorText = z.string().max(2000).optional();

const usageQuery = z
  .object({ userId: optionalText, featureId: optionalText, from: instant.optional(), to: instant.optional(), limit, cursor: cursorText })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: 'must not be before from', path: ['to'] });

const recordsQuery = z.object({
  userId: optionalText,
  featureId: optionalText,
  from: instant.optional(),
  to: instant.optional(),
  limit,
  cursor: cursorText,
});

const recordsCursor = z.object({ t: z.string().refine((t) => !Number.isNaN(Date.parse(t))), id: z.uuid() });
const totalsCursor = z.object({ u: z.string(), f: z.string() });

/** Reads a cursor position (opaque to clients, see decodeCursor) of the given shape; a wrong shape is a 400. */
const shaped =
  <T>(shape: z.ZodType<T>) =>
  (value: unknown): T | undefined =>
    shape.safeParse(value).data;

/** Usage totals and records, scoped to the account the gateway authenticated. Time ranges are over event time: from inclusive, to exclusive. */
export function usageRoutes(deps: { queries: PgUsageQueries }) {
  return async function registerUsageRoutes(app: FastifyInstance): Promise<void> {
    app.get('/v1/usage', async (request) => {
      const accountId = requireAccountId(request);
      const { limit, cursor, ...filter } = parseOr400(usageQuery, request.query, 'query');
      const after = cursor ? decodeCursor(cursor, shaped(totalsCursor)) : null;
      const page = await deps.queries.totals({ accountId, ...filter }, limit, after && { userId: after.u, featureId: after.f });
      return { data: page.data, nextCursor: page.next ? encodeCursor({ u: page.next.userId, f: page.next.featureId }) : null };
    });

    app.get('/v1/usage/records', async (request) => {
      const accountId = requireAccountId(request);
      const { limit, cursor, ...filter } = parseOr400(recordsQuery, request.query, 'query');
      const after = cursor ? decodeCursor(cursor, shaped(recordsCursor)) : null;
      const page = await deps.queries.records({ accountId, ...filter }, limit, after && { eventTime: after.t, id: after.id });
      return { data: page.data, nextCursor: page.next ? encodeCursor({ t: page.next.eventTime, id: page.next.id }) : null };
    });
  };
}
