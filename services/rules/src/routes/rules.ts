import { decodePositionCursor, encodeCursor, parseOr400, requireAccountId, type FastifyInstance, type Pool } from '@kana/platform';
import { adminApi } from '@kana/schemas';
import { getRule, listRules } from '../adapters/pg-catalog';
import type { ChangeService } from '../changes';
import type { PreviewService } from '../preview';

const { catalogIdParams: idParam, previewInput, ruleInput, rulePatch } = adminApi;

export function ruleRoutes(app: FastifyInstance, deps: { pool: Pool; changes: ChangeService; preview: PreviewService; onChange: () => void }): void {
  app.get('/v1/rules', async (request): Promise<adminApi.Page<adminApi.Rule>> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(adminApi.pageQuery, request.query, 'query');
    const after = decodePositionCursor(query.cursor, 2);
    const rules = await listRules(deps.pool, accountId, query.limit + 1, after && { createdAt: String(after[0]), id: String(after[1]) });
    const page = rules.slice(0, query.limit);
    const last = page[page.length - 1];
    return { data: page, nextCursor: rules.length > query.limit && last ? encodeCursor([last.createdAt, last.id]) : null };
  });

  app.post('/v1/rules', async (request, reply) => {
    const accountId = requireAccountId(request);
    const input = parseOr400(ruleInput, request.body, 'rule');
    const { result } = await deps.changes.createRule(accountId, input);
    deps.onChange();
    return reply.code(201).send(result satisfies adminApi.Rule);
  });

  app.post('/v1/rules/preview', async (request) => {
    const accountId = requireAccountId(request);
    const draft = parseOr400(previewInput, request.body, 'rule');
    return deps.preview.preview(accountId, draft);
  });

  app.get('/v1/rules/:id', async (request, reply) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParam, request.params, 'path');
    const rule = await getRule(deps.pool, accountId, id);
    return (rule satisfies adminApi.Rule | undefined) ?? reply.code(404).send({ message: `no rule '${id}'` });
  });

  app.patch('/v1/rules/:id', async (request) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParam, request.params, 'path');
    const patch = parseOr400(rulePatch, request.body, 'rule');
    const { result } = await deps.changes.updateRule(accountId, id, patch);
    deps.onChange();
    return result satisfies adminApi.Rule;
  });

  app.delete('/v1/rules/:id', async (request, reply) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParam, request.params, 'path');
    await deps.changes.deleteRule(accountId, id);
    deps.onChange();
    return reply.code(204).send();
  });
}
