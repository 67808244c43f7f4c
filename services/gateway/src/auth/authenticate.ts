import type { FastifyReply, FastifyRequest } from 'fastify';
import { httpError } from '@kana/platform';
import { apiKeyFromAuthorization } from '../domain/api-key';
import type { KeyCache } from './key-cache';

declare module 'fastify' {
  interface FastifyRequest {
    /** The account of the request's API key; set by the authenticate hook of every /v1 route. */
    accountId: string;
  }
}

const INFO_OR_LOWER = new Set(['info', 'debug', 'trace']);

/**
 * onRequest hook: runs before the body is read, so a request with a bad key
 * costs no parsing. Never logs the key.
 */
export function authenticate(keys: KeyCache) {
  return async function authenticateRequest(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const apiKey = apiKeyFromAuthorization(request.headers.authorization);
    if (!apiKey) {
      throw httpError(401, 'missing API key: send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>');
    }
    const accountId = await keys.accountFor(apiKey);
    if (!accountId) throw httpError(401, 'unknown or revoked API key');
    request.accountId = accountId;
    // A child logger per request costs measurable throughput; bind the account only when info logs are written.
    if (INFO_OR_LOWER.has(request.log.level)) request.log = request.log.child({ accountId });
  };
}
