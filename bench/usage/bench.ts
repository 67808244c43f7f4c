// Usage benchmark: track events per second through one usage instance (rules
// evaluated, events stored, usage inserted and produced, offsets committed)
// against, in the same run, a baseline that writes the same rows straight
// into Postgres with the same bulk statements, batch size and concurrency.
// Also counts every Redis command the instance sends while measuring.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoalescingProducer, createKafka, ensureTopics, createLogger, createMetrics, createPool, createRedis, migrate } from '@kana/platform';
import { STACK, deleteTopicsWithPrefix, dropSchema, uniqueId } from '@kana/platform/testing';
import { EventCodec, rulesSnapshotKey, topicNames, userKey, type RulesSnapshot, type TrackMessage } from '@kana/schemas';

type AppModule = typeof import('../../services/usage/dist/app');
type ConfigModule = typeof import('../../services/usage/dist/config');
type StandInModule = typeof import('../../services/usage/dist/rules-stand-in');
type StoreModule = typeof import('../../services/usage/dist/adapters/pg-usage-store');
type BatchModule = typeof import('../../services/usage/dist/domain/batch');
const dist = join(__dirname, '..', '..', '..', 'services', 'usage', 'dist');
const { buildUsage, MIGRATIONS_DIR } = require(join(dist, 'app')) as AppModule;
const { usageEnv } = require(join(dist, 'config')) as ConfigModule;
const { RulesStandIn } = require(join(dist, 'rules-stand-in')) as StandInModule;
const { PgUsageStore } = require(join(dist, 'adapters', 'pg-usage-store')) as StoreModule;
const { planBatch } = require(join(dist, 'domain', 'batch')) as BatchModule;

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const ACCOUNTS = 10;
const PARTITIONS = Number(process.env.PARTITIONS ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 6);

function snapshotFor(accountId: string): RulesSnapshot {
  return {
    accountId,
    version: 1,
    features: ['api_calls', 'bandwidth', 'seats', 'messages'].map((id) => ({ id, name: id })),
    rules: [
      { id: 'r-api', featureId: 'api_calls', eventName: 'API Call', conditions: [{ property: 'request.endpoint', operator: 'contains', value: '/v1/' }] },
      { id: 'r-bw', featureId: 'bandwidth', eventName: 'API Call', conditions: [{ property: 'bytes', operator: 'gt', value: 250 }] },
      { id: 'r-seat', featureId: 'seats', eventName: 'Seat Added', conditions: [{ property: 'plan', operator: 'in', value: ['pro', 'team'] }, { property: 'trial', operator: 'not_exists' }] },
    ],
  };
}

function anEvent(index: number): TrackMessage {
  const accountId = `bench_acc_${index % ACCOUNTS}`;
  const kind = index % 20;
  const [event, properties]: [string, Record<string, unknown>] =
    kind < 8 ? ['API Call', { request: { endpoint: `/v1/items/${index % 50}` }, bytes: (index * 37) % 500 }]
    : kind < 16 ? ['Message Sent', { featureId: 'messages', delta: String(1 + (index % 3)) }]
    : kind < 19 ? ['Seat Added', { plan: index % 2 ? 'pro' : 'team' }]
    : ['Page Exported', { format: 'pdf' }];
  return {
    schemaVersion: 1,
    accountId,
    requestId: `bench-${index}`,
    receivedAt: '2026-11-28T10:00:00.000Z',
    event: { type: 'track', event, userId: `user-${index % 1000}`, messageId: `bench-m-${index}`, timestamp: new Date(Date.UTC(2026, 10, 1) + index * 1000).toISOString(), context: {}, integrations: {}, properties },
  };
}

async function main(): Promise<void> {
  const id = uniqueId('bench');
  const prefix = `${id}.`;
  const schema = `usage_${id}`.toLowerCase();
  const baselineSchema = `${schema}_base`;
  const logger = createLogger({ name: 'usage-bench', level: 'error' });
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: [STACK.KAFKA_BROKERS], clientId: 'usage-bench', logger });
  const redis = createRedis({ url: STACK.REDIS_URL, keyPrefix: `${id}:`, logger });
  const rules = new RulesStandIn(redis);
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `bench_acc_${i}`);
  const events = Array.from({ length: EVENTS }, (_, i) => anEvent(i));
  await redis.connect();
  const rulesUrl = await rules.start();
  for (const accountId of accounts) {
    rules.snapshots.set(accountId, snapshotFor(accountId));
    await redis.set(rulesSnapshotKey(accountId), JSON.stringify(snapshotFor(accountId)));
  }

  const config = usageEnv.parse({
    ...STACK, DATABASE_SCHEMA: schema, REDIS_KEY_PREFIX: `${id}:`, TOPIC_PREFIX: prefix, KAFKA_PARTITIONS: String(PARTITIONS),
    LOG_LEVEL: 'error', RULES_URL: rulesUrl, PORT: '0', CONSUMER_CONCURRENCY: String(CONCURRENCY),
  });
  let batches = 0;
  let handled = 0;
  let firstBatchAt = 0;
  let redisCommands = 0;
  const service = buildUsage(config, {
    logger,
    interceptBatch: async (topic, messages, handle) => {
      if (topic === 'track') {
        if (firstBatchAt === 0) {
          firstBatchAt = performance.now();
          redisCommands = 0;
        }
        batches++;
        handled += messages.length;
      }
      return handle();
    },
  });
  // Counts every command the instance sends to Redis (a wrapper, independent of the service's own metric).
  const sendCommand = service.redis.sendCommand.bind(service.redis);
  service.redis.sendCommand = ((...args: Parameters<typeof sendCommand>) => {
    redisCommands++;
    return sendCommand(...args);
  }) as typeof service.redis.sendCommand;

  try {
    // The input is in Kafka before the instance starts, so the measurement is consumption only.
    await ensureTopics(kafka, topics, PARTITIONS);
    const codec = EventCodec.connect(STACK.SCHEMA_REGISTRY_URL, topics);
    await codec.registerAll();
    const producer = new CoalescingProducer({ maxBatchMessages: 5_000 }, { kafka, logger, metrics: createMetrics('bench', { defaults: false }) });
    await producer.start();
    for (let i = 0; i < events.length; i += 5_000) {
      const chunk = events.slice(i, i + 5_000);
      const messages = await Promise.all(chunk.map(async (e) => ({ key: userKey(e.accountId, e.event.userId), value: await codec.encode('track', e) })));
      await producer.send(topics.track, messages);
    }
    await producer.stop();
    process.stdout.write(`produced ${EVENTS} track events to ${PARTITIONS} partitions\n`);
    await service.lifecycle.start();

    const admin = kafka.admin();
    await admin.connect();
    let committed = 0;
    let doneAt = 0;
    while (committed < EVENTS) {
      const [offsets] = await admin.fetchOffsets({ groupId: `${prefix}kana-usage.track`, topics: [topics.track] });
      committed = offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      doneAt = performance.now();
      if (committed < EVENTS) await new Promise((r) => setTimeout(r, 20));
    }
    await admin.disconnect();
    const seconds = (doneAt - firstBatchAt) / 1000;
    const serviceRate = EVENTS / seconds;
    const commandsDuringRun = redisCommands;
    const steps = (await service.metrics.getSingleMetric('kana_usage_batch_step_seconds')!.get()).values
      .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'))
      .map((v) => `${v.labels.step}=${Number(v.value).toFixed(2)}s`);
    process.stdout.write(`service wall ${seconds.toFixed(2)}s; handler time summed over partitions: ${steps.join(' ')}\n`);
    const records = await service.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_records');
    await service.lifecycle.stop();

    // Baseline: the same rows, same store code, batch size and concurrency, no Kafka, no registry, no Redis.
    const batchSize = Math.max(1, Math.round(handled / batches));
    const basePool = createPool({ url: STACK.DATABASE_URL, schema: baselineSchema, max: CONCURRENCY });
    await migrate(basePool, { schema: baselineSchema, dir: MIGRATIONS_DIR });
    const store = new PgUsageStore({ pool: basePool });
    const snapshots = new Map(accounts.map((a) => [a, snapshotFor(a)]));
    const chunks: TrackMessage[][] = [];
    for (let i = 0; i < events.length; i += batchSize) chunks.push(events.slice(i, i + batchSize));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < chunks.length) {
          const chunk = chunks[next++]!;
          await store.writeBatch(planBatch('track', chunk.map((value, i) => ({ offset: String(i), value })), snapshots).planned);
        }
      }),
    );
    const baselineRate = EVENTS / ((performance.now() - started) / 1000);
    await basePool.end();

    const figures = {
      events: EVENTS,
      usageRecords: records.rows[0]!.n,
      batches,
      eventsPerBatch: batchSize,
      serviceRate: Math.round(serviceRate),
      baselineRate: Math.round(baselineRate),
      ratio: serviceRate / baselineRate,
      redisPerEvent: commandsDuringRun / EVENTS,
      redisPerBatch: commandsDuringRun / batches,
      rulesFetches: rules.requests,
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    await writeSection(figures, `${seconds.toFixed(1)} s wall; handler time summed over the partitions in flight: ${steps.join(', ')}`);
  } finally {
    await rules.stop();
    await redis.del(...accounts.map((a) => rulesSnapshotKey(a)));
    redis.disconnect();
    await dropSchema(schema);
    await dropSchema(baselineSchema);
    await deleteTopicsWithPrefix(prefix);
  }
}

async function writeSection(f: Record<string, number>, where: string): Promise<void> {
  const file = join(__dirname, '..', '..', '..', 'BENCHMARKS.md');
  const section = [
    '<!-- usage:start -->',
    '## Usage',
    '',
    `Command: \`EVENTS=${f.events} bench/usage/run.sh\` (${new Date().toISOString().slice(0, 10)}, this ${require('node:os').cpus().length}-core machine, local stack).`,
    `${f.events} track events (10 accounts, 40% two-rule API calls, 40% featureId, 15% seat rules, 5% unmapped) on ${PARTITIONS} partitions,`,
    `one usage instance (${CONCURRENCY} partitions at a time). Measured from the first batch to the last committed offset.`,
    '',
    '| figure | value | target |',
    '|---|---|---|',
    `| events/s through the service (rules, events + records stored, produced, offsets committed) | ${f.serviceRate} | ≥ 10,000 |`,
    `| events/s baseline (same rows, same bulk statements, batch size ${f.eventsPerBatch}, straight into Postgres) | ${f.baselineRate} | |`,
    `| ratio service / baseline | ${f.ratio!.toFixed(2)} | ≥ 0.5 |`,
    `| Redis round trips per event | ${f.redisPerEvent!.toFixed(5)} | |`,
    `| Redis round trips per batch (${f.batches} batches) | ${f.redisPerBatch!.toFixed(2)} | ≤ 1 |`,
    `| usage records written | ${f.usageRecords} | |`,
    '',
    `Where the service's time went: ${where}. Summed Postgres time over the wall time is how many batch`,
    'transactions were in flight on average; the rest of the wall time the one Node.js thread spends decoding every',
    "message (wire format, JSON and the schema check in platform's consumer), encoding every output, and waiting for acks=all,",
    `with the broker and Postgres on the same two cores. Load average when it ended: ${require('node:os').loadavg().map((l: number) => l.toFixed(2)).join(' ')}.`,
    '<!-- usage:notes -->',
    '<!-- usage:end -->',
  ].join('\n');
  const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const pattern = /<!-- usage:start -->[\s\S]*<!-- usage:end -->/;
  // Hand-written notes (runs, what limits it) between usage:notes and usage:end survive a new run.
  const notes = /<!-- usage:notes -->([\s\S]*)<!-- usage:end -->/.exec(current)?.[1] ?? '\n';
  const withNotes = section.replace('<!-- usage:notes -->\n<!-- usage:end -->', `<!-- usage:notes -->${notes}<!-- usage:end -->`);
  await writeFile(file, pattern.test(current) ? current.replace(pattern, () => withNotes) : `${current.trimEnd()}\n\n${withNotes}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
