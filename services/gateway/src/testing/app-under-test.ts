import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import inject, { type InjectOptions, type Response as InjectedResponse } from 'light-my-request';
import { type FastifyInstance, type Logger, createLogger, createMetrics, UnavailableError } from '@kana/platform';
import { KeyCache } from '../auth/key-cache';
import { buildHttpApp } from '../http-app';
import { MemoryEventSink, MemoryKeyStore } from './memory-adapters';

export const KEY = 'kana_live_test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
export const OTHER_KEY = 'kana_live_test-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

/** The gateway's HTTP app over in-memory ports, for inject() tests. */
export function appUnderTest(options: { upstreams?: Partial<Record<'identity' | 'rules' | 'usage', string>>; logger?: Logger } = {}) {
  const store = new MemoryKeyStore().add(KEY, 'acc_1').add(OTHER_KEY, 'acc_2');
  const sink = new MemoryEventSink();
  const metrics = createMetrics('gateway-test', { defaults: false });
  const keys = new KeyCache({ ttlMs: 0, staleIfErrorMs: 0, maxEntries: 100 }, { store });
  const dead = 'http://127.0.0.1:65535';
  const app = buildHttpApp(
    {
      admin: {
        upstreams: { identity: options.upstreams?.identity ?? dead, rules: options.upstreams?.rules ?? dead, usage: options.upstreams?.usage ?? dead },
        timeoutMs: 2_000,
        bodyLimit: 10 * 1024 * 1024,
      },
    },
    { logger: options.logger ?? createLogger({ name: 'gateway-test', level: 'silent' }), metrics, keys, sink, ready: () => true, now: () => new Date('2024-05-02T00:00:00Z') },
  );
  open.push(app);
  return {
    app,
    store,
    sink,
    metrics,
    kafkaDown: () => (sink.failWith = new UnavailableError('the events could not be stored (Kafka unavailable); retry later')),
    request: (method: string, url: string, options: { body?: unknown; headers?: Record<string, string> } = {}) => call(app, method, url, options),
    /**
     * In process, through the same listener as real HTTP (the ingest listener, then fastify):
     * fastify's own inject() would skip the ingest listener, which serves the ingest routes.
     */
    inject: async (options: InjectOptions): Promise<InjectedResponse> => {
      await app.ready();
      const [listener] = app.server.listeners('request') as ((request: IncomingMessage, response: ServerResponse) => void)[];
      return inject(listener!, options);
    },
  };
}

const open: FastifyInstance[] = [];

/** Closes every app built by appUnderTest; call in afterEach. */
export async function closeApps(): Promise<void> {
  await Promise.all(open.splice(0).map((app) => app.close()));
}

export interface TestResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  json(): any;
}

/**
 * A request over real HTTP on an ephemeral local port: fastify's inject()
 * loads an ESM-only dependency (cookie 2) that Jest on Node 20 cannot require.
 */
async function call(app: FastifyInstance, method: string, url: string, options: { body?: unknown; headers?: Record<string, string> }): Promise<TestResponse> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const response = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    body,
  });
  const text = await response.text();
  return { statusCode: response.status, headers: Object.fromEntries(response.headers), body: text, json: () => JSON.parse(text) };
}

export const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
export const bearer = (key: string) => `Bearer ${key}`;
