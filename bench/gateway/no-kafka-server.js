// For attribution only, never deployed: the gateway's HTTP app exactly as main.js builds it
// (fastify, auth through the key cache, normalisation, validation, the KafkaEventSink encoding
// every event into the registry's wire format), except that the producer acknowledges at once
// instead of sending to Kafka. Its req/s against the baseline's says what the gateway's own code
// costs; the rest of the gap to the real gateway is the Kafka produce path (kafkajs, the
// broker's CPU on the same machine, the acks=all wait).
//
//   PORT=… SCHEMA_REGISTRY_URL=… TOPIC_PREFIX=… BENCH_API_KEY=… node bench/gateway/no-kafka-server.js
'use strict';
const { join } = require('node:path');
const { createRequire } = require('node:module');

const dist = join(__dirname, '..', '..', 'services', 'gateway', 'dist');
const gatewayRequire = createRequire(join(dist, 'main.js'));
const { createLogger, createMetrics } = gatewayRequire('@kana/platform');
const { EventCodec, topicNames } = gatewayRequire('@kana/schemas');
const { KafkaEventSink } = require(join(dist, 'adapters', 'kafka-event-sink'));
const { KeyCache } = require(join(dist, 'auth', 'key-cache'));
const { buildHttpApp } = require(join(dist, 'http-app'));
const { MemoryKeyStore } = require(join(dist, 'testing', 'memory-adapters'));

async function main() {
  const codec = EventCodec.connect(process.env.SCHEMA_REGISTRY_URL, topicNames(process.env.TOPIC_PREFIX ?? ''));
  await codec.registerAll();
  // The key cache of the real gateway, over an in-memory store (a cache hit either way after the first request).
  const keys = new KeyCache({ ttlMs: 5_000, staleIfErrorMs: 300_000, maxEntries: 10_000 }, { store: new MemoryKeyStore().add(process.env.BENCH_API_KEY, 'acc_bench') });
  const producer = { send: async () => undefined };
  const dead = 'http://127.0.0.1:9';
  const app = buildHttpApp(
    { admin: { upstreams: { identity: dead, rules: dead, usage: dead }, timeoutMs: 1_000, bodyLimit: 1024 * 1024 } },
    { logger: createLogger({ name: 'gateway-no-kafka', level: 'warn' }), metrics: createMetrics('gateway'), keys, sink: new KafkaEventSink({ producer, codec }), ready: () => true },
  );
  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
