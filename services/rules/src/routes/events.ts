import { decodePositionCursor, encodeCursor, parseOr400, requireAccountId, type FastifyInstance, type Pool } from '@kana/platform';
import { adminApi } from '@kana/schemas';
import { getJob, listJobs, type Job } from '../adapters/pg-jobs';
import { listUnmapped } from '../adapters/pg-unmapped-store';
import { toApiEvent } from '../preview';

/**
 * While a job walks, `total` is the number of events in scope when it started
 * (never less than what it already sent); once walked it is exactly the number
 * of distinct events sent, and `processed` reaches it when usage has reported
 * on each: then the job is done.
 */
function toApiJob(job: Job): adminApi.ReprocessJob {
  const total = job.walkDone ? job.total : Math.max(job.total, job.published);
  return { id: job.id, status: job.status, total, processed: job.processed, mapped: job.mapped, rulesVersion: job.rulesVersion, createdAt: job.createdAt };
}

export function eventRoutes(app: FastifyInstance, deps: { pool: Pool }): void {
  app.get('/v1/events/unmapped', async (request): Promise<adminApi.Page<adminApi.UnmappedEvent>> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(adminApi.unmappedQuery, request.query, 'query');
    const before = decodePositionCursor(query.cursor, 2);
    const rows = await listUnmapped(deps.pool, accountId, query, query.limit + 1, before && { eventTime: String(before[0]), messageId: String(before[1]) });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return { data: page.map(toApiEvent), nextCursor: rows.length > query.limit && last ? encodeCursor([last.eventTime, last.messageId]) : null };
  });

  app.get('/v1/reprocess-jobs', async (request): Promise<adminApi.Page<adminApi.ReprocessJob>> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(adminApi.pageQuery, request.query, 'query');
    const before = decodePositionCursor(query.cursor, 2);
    const rows = await listJobs(deps.pool, accountId, query.limit + 1, before && { createdAt: String(before[0]), id: String(before[1]) });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return { data: page.map(toApiJob), nextCursor: rows.length > query.limit && last ? encodeCursor([last.createdAt, last.id]) : null };
  });

  app.get('/v1/reprocess-jobs/:id', async (request, reply) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(adminApi.catalogIdParams, request.params, 'path');
    const job = await getJob(deps.pool, accountId, id);
    return job ? toApiJob(job) : reply.code(404).send({ message: `no reprocess job '${id}'` });
  });
}
