import { z } from 'zod';
import { decodeCursor, encodeCursor, parseOr400, requireAccountId, type FastifyInstance } from '@kana/platform';
import { adminApi } from '@kana/schemas';
import type { PgUsageQueries } from '../adapters/pg-usage-queries';

const { usageQuery, usageRecordsQuery: recordsQuery } = adminApi;

const recordsCursor = z.object({ t: z.string().refine((t) => !Number.isNaN(Date.parse(t))), id: z.uuid() });
const totalsCursor = z.object({ u: z.string(), f: z.string(), w: z.boolean().optional() });

/** Reads a cursor position (opaque to clients, see decodeCursor) of the given shape; a wrong shape is a 400. */
const shaped =
  <T>(shape: z.ZodType<T>) =>
  (value: unknown): T | undefined =>
    shape.safeParse(value).data;

/** Usage totals and records, scoped to the account the gateway authenticated. Time ranges are over event time: from inclusive, to exclusive. */
export function usageRoutes(deps: { queries: PgUsageQueries }) {
  return async function registerUsageRoutes(app: FastifyInstance): Promise<void> {
    app.get('/v1/usage', async (request): Promise<adminApi.Page<adminApi.UsageTotal>> => {
      const accountId = requireAccountId(request);
      const { limit, cursor, ...filter } = parseOr400(usageQuery, request.query, 'query');
      const after = cursor ? decodeCursor(cursor, shaped(totalsCursor)) : null;
      const page = await deps.queries.totals({ accountId, ...filter }, limit, after && { userId: after.u, featureId: after.f, walk: after.w });
      return { data: page.data, nextCursor: page.next ? encodeCursor({ u: page.next.userId, f: page.next.featureId, w: page.next.walk }) : null };
    });

    app.get('/v1/usage/records', async (request): Promise<adminApi.Page<adminApi.UsageRecord>> => {
      const accountId = requireAccountId(request);
      const { limit, cursor, ...filter } = parseOr400(recordsQuery, request.query, 'query');
      const after = cursor ? decodeCursor(cursor, shaped(recordsCursor)) : null;
      const page = await deps.queries.records({ accountId, ...filter }, limit, after && { eventTime: after.t, id: after.id });
      return { data: page.data, nextCursor: page.next ? encodeCursor({ t: page.next.eventTime, id: page.next.id }) : null };
    });
  };
}
