import type { AddressInfo } from 'node:net';
import { ACCOUNT_HEADER, CoalescingProducer, createKafka, createLogger, createMetrics } from '@kana/platform';
import { deleteTopicsWithPrefix, dropSchema, testEnv, uniqueId, waitFor } from '@kana/platform/testing';
import { SCHEMA_VERSION, userKey, type EventCodec, type IdentifyMessage } from '@kana/schemas';
import { buildIdentity, type IdentityApp } from '../src/app';
import { loadIdentityConfig } from '../src/config';

// Integration-test support: real Kafka, registry and Postgres, isolated per
// test file by a unique topic prefix, consumer group and schema.

export function anIdentifyMessage(overrides: { accountId?: string; userId?: string; messageId?: string; timestamp?: string; traits?: Record<string, unknown> } = {}): IdentifyMessage {
  const timestamp = overrides.timestamp ?? new Date().toISOString();
  return {
    schemaVersion: SCHEMA_VERSION,
    accountId: overrides.accountId ?? 'acc-test',
    requestId: uniqueId('req-'),
    receivedAt: timestamp,
    event: {
      type: 'identify',
      messageId: overrides.messageId ?? uniqueId('msg-'),
      userId: overrides.userId ?? 'user-1',
      timestamp,
      context: {},
      integrations: {},
      traits: overrides.traits ?? {},
    },
  };
}

export class IdentityHarness {
  readonly apps: IdentityApp[] = [];
  private readonly env: Record<string, string>;
  private readonly logger = createLogger({ name: 'identity-test', level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  private readonly producer: CoalescingProducer;
  private readonly kafka: ReturnType<typeof createKafka>;

  constructor() {
    this.env = { ...testEnv('identity'), PORT: '0', HOST: '127.0.0.1', OUTBOX_SWEEP_MS: '500' };
    this.kafka = createKafka({ brokers: [this.env.KAFKA_BROKERS!], clientId: 'identity-test', logger: this.logger });
    this.producer = new CoalescingProducer({}, { kafka: this.kafka, logger: this.logger, metrics: createMetrics('identity-test', { defaults: false }) });
  }

  /** Starts one more instance in the same consumer group and schema. */
  async startInstance(): Promise<IdentityApp> {
    const app = buildIdentity(loadIdentityConfig(this.env), { metrics: createMetrics('identity', { defaults: false }) });
    try {
      await app.lifecycle.start();
    } catch (error) {
      // The pool is closed by the first component, which a failed start may not have finished.
      await app.lifecycle.stop();
      await app.pool.end().catch(() => undefined);
      throw error;
    }
    this.apps.push(app);
    if (this.apps.length === 1) await this.producer.start();
    return app;
  }

  get app(): IdentityApp {
    return this.apps[0]!;
  }

  get codec(): EventCodec {
    return this.app.codec;
  }

  async publish(messages: IdentifyMessage[]): Promise<void> {
    const encoded = await Promise.all(
      messages.map(async (message) => ({ key: userKey(message.accountId, message.event.userId), value: await this.codec.encode('identify', message) })),
    );
    await this.producer.send(this.codec.topicName('identify'), encoded);
  }

  /**
   * An admin call as the gateway forwards it, over real HTTP (fastify's
   * inject() pulls an ESM-only dependency that Jest on Node 20 cannot load).
   */
  async request(accountId: string | null, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) {
    const address = this.app.http.server.address() as AddressInfo;
    const headers: Record<string, string> = accountId === null ? {} : { [ACCOUNT_HEADER]: accountId };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`http://127.0.0.1:${address.port}${url}`, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { statusCode: response.status, body: text, json: (): any => JSON.parse(text) };
  }

  /** Waits until the consumer group committed every identify published so far: all of them were applied. */
  async drained(timeoutMs = 60_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topic = this.codec.topicName('identify');
      const { TOPIC_PREFIX, CONSUMER_GROUP } = loadIdentityConfig(this.env);
      const groupId = `${TOPIC_PREFIX}${CONSUMER_GROUP}`;
      await waitFor(
        async () => {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
          const at = new Map(committed!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
          return ends.every((end) => BigInt(end.offset) === 0n || at.get(end.partition) === BigInt(end.offset));
        },
        { timeoutMs, intervalMs: 200, what: 'every identify consumed and committed' },
      );
    } finally {
      await admin.disconnect();
    }
  }

  async sql<R extends object>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.app.pool.query<R>(text, values)).rows;
  }

  async stop(): Promise<void> {
    await this.producer.stop().catch(() => undefined);
    for (const app of [...this.apps].reverse()) await app.lifecycle.stop();
    await dropSchema(this.env.DATABASE_SCHEMA!).catch(() => undefined);
    await deleteTopicsWithPrefix(this.env.TOPIC_PREFIX!).catch(() => undefined);
  }
}
