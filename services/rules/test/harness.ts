import { ACCOUNT_HEADER, CoalescingProducer, createKafka, createLogger, createMetrics } from '@kana/platform';
import { STACK, deleteTopicsWithPrefix, dropSchema, testEnv, uniqueId } from '@kana/platform/testing';
import type { TrackEvent, UnmappedMessage } from '@kana/schemas';
import { build, type RulesApp } from '../src/app';
import { readConfig, type RulesConfig } from '../src/config';
import { buildUsage } from '../../usage/src/app';
import { readConfig as readUsageConfig } from '../../usage/src/config';

// Shared by the integration tests: a real rules app on its own topics,
// schema and Redis prefix, and builders of the messages usage would send.

export async function startRules(overrides: Record<string, string> = {}, id = uniqueId('r')): Promise<{ app: RulesApp; config: RulesConfig; url: string; stop(): Promise<void> }> {
  const config = readConfig({ ...testEnv('rules', id), PORT: '0', REPROCESS_POLL_MS: '100', ...overrides });
  const logger = createLogger({ name: 'rules-test', level: config.LOG_LEVEL });
  const app = build(config, { logger });
  await app.lifecycle.start();
  const address = app.http.server.address();
  const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return {
    app,
    config,
    url,
    async stop() {
      await app.lifecycle.stop();
    },
  };
}

export interface Reply {
  statusCode: number;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A real HTTP call (fastify's inject needs an ESM-only dependency jest cannot load here). */
export async function httpCall(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { statusCode: response.status, json: () => (text ? JSON.parse(text) : undefined) };
}

export async function cleanUp(config: RulesConfig): Promise<void> {
  await dropSchema(config.DATABASE_SCHEMA);
  await deleteTopicsWithPrefix(config.TOPIC_PREFIX);
}

export function aTrackEvent(overrides: Partial<TrackEvent> = {}): TrackEvent {
  return {
    type: 'track',
    event: 'Message Sent',
    userId: 'u1',
    messageId: uniqueId('m-'),
    timestamp: '2026-11-20T10:00:00.000Z',
    context: {},
    integrations: {},
    properties: {},
    ...overrides,
  };
}

export function anUnmappedMessage(accountId: string, event: Partial<TrackEvent> = {}, overrides: Partial<UnmappedMessage> = {}): UnmappedMessage {
  return {
    schemaVersion: 1,
    accountId,
    requestId: uniqueId('req-'),
    receivedAt: '2026-11-20T10:00:01.000Z',
    event: aTrackEvent(event),
    reason: 'no_rule',
    rulesVersion: 0,
    jobId: null,
    ...overrides,
  };
}

/**
 * The real usage service in-process, on the rules app's topics and Redis
 * prefix (where it reads the snapshots) with its own Postgres schema.
 */
export async function startUsage(rules: { config: RulesConfig; url: string }, id = uniqueId('u')) {
  const config = readUsageConfig({
    ...testEnv('usage', id),
    TOPIC_PREFIX: rules.config.TOPIC_PREFIX,
    REDIS_KEY_PREFIX: rules.config.REDIS_KEY_PREFIX,
    KAFKA_PARTITIONS: String(rules.config.KAFKA_PARTITIONS),
    RULES_URL: rules.url,
    PORT: '0',
  });
  const app = buildUsage(config, { logger: createLogger({ name: 'usage-test', level: config.LOG_LEVEL }) });
  await app.lifecycle.start();
  const address = app.http.server.address();
  const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return {
    app,
    config,
    url,
    async stop() {
      await app.lifecycle.stop();
    },
    async cleanUp() {
      await dropSchema(config.DATABASE_SCHEMA);
    },
  };
}

/**
 * The rules app and the real usage service side by side, a producer to put
 * messages on their topics, and an admin client scoped to an account: what
 * the tests of the retroactive path share. stop() also cleans up.
 */
export async function startRulesWithUsage(name: string, overrides: Record<string, string> = {}) {
  const rules = await startRules(overrides);
  const usage = await startUsage(rules);
  const logger = createLogger({ name, level: 'warn' });
  const producer = new CoalescingProducer({}, { kafka: createKafka({ brokers: [STACK.KAFKA_BROKERS], clientId: name, logger }), logger, metrics: createMetrics('t', { defaults: false }) });
  await producer.start();
  return {
    rules,
    usage,
    producer,
    admin: (accountId: string) => (method: string, path: string, body?: unknown) => httpCall(rules.url, method, path, body, { [ACCOUNT_HEADER]: accountId }),
    async stop() {
      await producer.stop();
      await usage.stop();
      await rules.stop();
      await usage.cleanUp();
      await cleanUp(rules.config);
    },
  };
}
