import { encodeCursor, httpError, parseOr400, requireAccountId, type FastifyInstance } from '@kana/platform';
import { adminApi } from '@kana/schemas';
import type { OutboxRelay } from '../adapters/outbox-relay';
import type { PgAdminStore } from '../adapters/pg-admin-store';
import { toApiUser } from '../adapters/pg-rows';
import type { OutboxEntry } from '../adapters/pg-user-writes';
import { decodeAttentionCursor, decodeUserCursor, encodeUserCursor, isUserId, noUserMessage } from './schemas';

const { importBody, mergeBody, userIdParams: idParams, usersQuery: listQuery } = adminApi;

export interface UsersRoutesOptions {
  admin: PgAdminStore;
  relay: OutboxRelay;
}

/**
 * The users part of the admin API. The gateway authenticates the key and
 * forwards with x-kana-account-id; every query is scoped to that account, so
 * another account's user id answers 404 exactly like a missing one.
 */
export async function usersRoutes(app: FastifyInstance, { admin, relay }: UsersRoutesOptions): Promise<void> {
  // Changes are committed to the outbox with the data; producing them right
  // away is a courtesy to consumers. If Kafka is down the request still
  // succeeded and the relay's sweep produces them later.
  const publish = (outbox: OutboxEntry | undefined) =>
    relay.publish(outbox).catch((error: unknown) => app.log.warn({ err: error }, 'changes left in the outbox for the next sweep'));

  app.get('/v1/users', async (request): Promise<adminApi.Page<adminApi.User>> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(listQuery, request.query, 'query');
    const after = query.cursor === undefined ? undefined : decodeUserCursor(query.cursor);
    const users = await admin.list(accountId, { userId: query.userId, email: query.email, after, limit: query.limit + 1 });
    const page = users.slice(0, query.limit);
    return { data: page.map(toApiUser), nextCursor: users.length > query.limit ? encodeUserCursor(page[page.length - 1]!.id) : null };
  });

  // Static path: fastify's router prefers it over /v1/users/:id whatever the registration order.
  app.get('/v1/users/attention', async (request): Promise<adminApi.Attention> => {
    const accountId = requireAccountId(request);
    const query = parseOr400(adminApi.pageQuery, request.query, 'query');
    const result = await admin.attention(accountId, query.limit, query.cursor === undefined ? undefined : decodeAttentionCursor(query.cursor));
    return {
      missingBillingId: result.missingBillingId.map(toApiUser),
      sharedEmails: result.sharedEmails.map(({ email, users }) => ({ email, users: users.map(toApiUser) })),
      issues: result.issues,
      nextCursor: result.next ? encodeCursor(result.next) : null,
    };
  });

  app.get('/v1/users/:id', async (request) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParams, request.params, 'path');
    const user = isUserId(id) ? await admin.get(accountId, id) : undefined;
    if (!user) throw httpError(404, noUserMessage(id));
    return toApiUser(user) satisfies adminApi.User;
  });

  app.post('/v1/users/:id/merge', async (request) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParams, request.params, 'path');
    const { intoId } = parseOr400(mergeBody, request.body, 'body');
    if (!isUserId(id)) throw httpError(404, noUserMessage(id));
    if (!isUserId(intoId)) throw httpError(404, noUserMessage(intoId, 'intoId'));
    const { user, outbox } = await admin.merge(accountId, id, intoId);
    await publish(outbox);
    return toApiUser(user);
  });

  app.delete('/v1/users/:id', async (request, reply) => {
    const accountId = requireAccountId(request);
    const { id } = parseOr400(idParams, request.params, 'path');
    const deleted = isUserId(id) ? await admin.delete(accountId, id) : undefined;
    if (!deleted) throw httpError(404, noUserMessage(id));
    await publish(deleted.outbox);
    return reply.code(204).send();
  });

  app.post('/v1/users/import', { bodyLimit: 16 * 1024 * 1024 }, async (request) => {
    const accountId = requireAccountId(request);
    const { customers } = parseOr400(importBody, request.body, 'body');
    const { outbox, ...outcome } = await admin.import(accountId, customers);
    await publish(outbox);
    return outcome satisfies adminApi.ImportAnswer;
  });
}
