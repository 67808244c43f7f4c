import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError, httpError } from '@kana/platform';
import { NoApiKey, readApiKey } from '../domain/api-key';
import type { KeyCache } from './key-cache';

declare module 'fastify' {
  interface FastifyRequest {
    /** The account of the request's API key; set by the authenticate hook of every /v1 route. */
    accountId: string;
  }
}

const INFO_OR_LOWER = new Set(['info', 'debug', 'trace']);

const UNKNOWN_API_KEY = 'unknown or revoked API key';

/**
 * The account of an Authorization header, or the 401 that refuses it (a missing,
 * malformed, unknown or revoked key). Synchronous for a cached key, which almost
 * every request has: a promise and a microtask turn per request cost measurable
 * throughput. Rejects (503) only when the key store cannot be asked. Every /v1
 * request is authenticated here, by the fastify hook below or the ingest listener.
 */
export function resolveAccount(keys: KeyCache, authorization: string | undefined): string | AppError | Promise<string | AppError> {
  const apiKey = readApiKey(authorization);
  if (apiKey instanceof NoApiKey) return httpError(401, apiKey.reason);
  const cached = keys.cached(apiKey);
  if (cached !== undefined) return cached ?? httpError(401, UNKNOWN_API_KEY);
  return keys.accountFor(apiKey).then((accountId) => accountId ?? httpError(401, UNKNOWN_API_KEY));
}

/**
 * onRequest hook: runs before the body is read, so a request with a bad key
 * costs no parsing. Never logs the key. Callback style, so a cached key takes
 * no promise (see resolveAccount).
 */
export function authenticate(keys: KeyCache) {
  function admit(request: FastifyRequest, account: string | AppError, done: HookHandlerDoneFunction): void {
    if (account instanceof AppError) return done(account);
    request.accountId = account;
    // A child logger per request costs measurable throughput; bind the account only when info logs are written.
    if (INFO_OR_LOWER.has(request.log.level)) request.log = request.log.child({ accountId: account });
    done();
  }
  return function authenticateRequest(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const account = resolveAccount(keys, request.headers.authorization);
    if (!(account instanceof Promise)) return admit(request, account, done);
    account.then(
      (resolved) => admit(request, resolved, done),
      (error: Error) => done(error),
    );
  };
}
