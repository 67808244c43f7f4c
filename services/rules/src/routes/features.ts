import { decodePositionCursor, encodeCursor, parseOr400, requireAccountId, type FastifyInstance, type Pool } from '@kana/platform';
import { adminApi } from '@kana/schemas';
import { listFeatures } from '../adapters/pg-catalog';
import type { ChangeService } from '../changes';

export function featureRoutes(app: FastifyInstance, deps: { pool: Pool; changes: ChangeService; onChange: () => void }): void {
  app.get('/v1/features', async (request): Promise<adminApi.Page<adminApi.Feature>> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(adminApi.pageQuery, request.query, 'query');
    const after = decodePositionCursor(query.cursor, 1);
    const features = await listFeatures(deps.pool, accountId, query.limit + 1, after?.[0] as string | undefined);
    const page = features.slice(0, query.limit);
    return { data: page, nextCursor: features.length > query.limit ? encodeCursor([page[page.length - 1]!.id]) : null };
  });

  app.post('/v1/features', async (request, reply) => {
    const accountId = requireAccountId(request);
    const input = parseOr400(adminApi.featureInput, request.body, 'feature');
    const { result } = await deps.changes.createFeature(accountId, input);
    deps.onChange();
    return reply.code(201).send(result satisfies adminApi.Feature);
  });

  app.delete('/v1/features/:id', async (request, reply) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(adminApi.catalogIdParams, request.params, 'path');
    await deps.changes.deleteFeature(accountId, id);
    deps.onChange();
    return reply.code(204).send();
  });
}
