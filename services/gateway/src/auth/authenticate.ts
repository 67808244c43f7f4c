import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
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

export const MISSING_API_KEY = 'missing API key: send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>';
export const UNKNOWN_API_KEY = 'unknown or revoked API key';

/**
 * onRequest hook: runs before the body is read, so a request with a bad key
 * costs no parsing. Never logs the key. Callback style with a synchronous
 * path for a cached key: almost every request takes it, and an async hook
 * costs a promise and a microtask turn per request.
 */
export function authenticate(keys: KeyCache) {
  function admit(request: FastifyRequest, accountId: string | null, done: HookHandlerDoneFunction): void {
    if (!accountId) return done(httpError(401, UNKNOWN_API_KEY));
    request.accountId = accountId;
    // A child logger per request costs measurable throughput; bind the account only when info logs are written.
    if (INFO_OR_LOWER.has(request.log.level)) request.log = request.log.child({ accountId });
    done();
  }
  return function authenticateRequest(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const apiKey = apiKeyFromAuthorization(request.headers.authorization);
    if (!apiKey) {
      return done(httpError(401, MISSING_API_KEY));
    }
    const cached = keys.cached(apiKey);
    if (cached !== undefined) return admit(request, cached, done);
    keys.accountFor(apiKey).then(
      (accountId) => admit(request, accountId, done),
      (error: Error) => done(error),
    );
  };
}
