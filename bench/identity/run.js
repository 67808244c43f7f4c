#!/usr/bin/env node
// Identify events per second through ONE identity instance (Kafka → decode →
// decide → one transaction per batch → outbox → kana.identity.changes →
// commit), against a same-run baseline of plain batched upserts of the same
// rows into a bare table. Writes the Identity section of BENCHMARKS.md.
//
//   pnpm exec tsc -b services/identity && node bench/identity/run.js [events]
//
// Needs the local stack (scripts/stack.sh up). Uses database kana_test and a
// throwaway schema and topic prefix, removed at the end.
'use strict';
const { createRequire } = require('node:module');
const { join } = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const root = join(__dirname, '..', '..');
const serviceRequire = createRequire(join(root, 'services', 'identity', 'package.json'));
const platform = serviceRequire('@kana/platform');
const testing = serviceRequire('@kana/platform/testing');
const schemas = serviceRequire('@kana/schemas');
const { buildIdentity } = require(join(root, 'services', 'identity', 'dist', 'app.js'));
const { loadIdentityConfig } = require(join(root, 'services', 'identity', 'dist', 'config.js'));

const EVENTS = Number(process.argv[2] ?? 40_000);
const EVENTS_PER_USER = 4;
const BATCH = 500;

function makeEvents(accountId) {
  const events = [];
  for (let i = 0; i < EVENTS; i++) {
    const user = i % (EVENTS / EVENTS_PER_USER);
    const timestamp = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
    events.push({
      schemaVersion: schemas.SCHEMA_VERSION, accountId, requestId: `r${i}`, receivedAt: timestamp,
      event: {
        type: 'identify', messageId: `m${i}`, userId: `user-${user}`, timestamp, context: {}, integrations: {},
        traits: { name: `Name ${i}`, email: `user-${user}-${i % 3}@example.com`, billingUserId: `cus_Bench${user}x${i}`, plan: 'pro' },
      },
    });
  }
  return events;
}

/** The baseline: what a naive consumer would do, a multi-row upsert per batch of the same rows. */
async function baseline(pool, events) {
  await pool.query(`CREATE TABLE baseline_users (account_id text, user_id text, name text, email text, billing_id text, updated_at timestamptz,
                    PRIMARY KEY (account_id, user_id))`);
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += BATCH) {
    const rows = new Map();
    for (const { accountId, event } of events.slice(i, i + BATCH)) rows.set(event.userId, [accountId, event]);
    const list = [...rows.values()];
    await pool.query(
      `INSERT INTO baseline_users SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       ON CONFLICT (account_id, user_id) DO UPDATE SET name = excluded.name, email = excluded.email, billing_id = excluded.billing_id, updated_at = excluded.updated_at`,
      [list.map(([a]) => a), list.map(([, e]) => e.userId), list.map(([, e]) => e.traits.name), list.map(([, e]) => e.traits.email),
       list.map(([, e]) => e.traits.billingUserId), list.map(([, e]) => e.timestamp)],
    );
  }
  return events.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main() {
  const env = { ...testing.testEnv('identity_bench'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', KAFKA_PARTITIONS: '6' };
  const config = loadIdentityConfig(env);
  const logger = platform.createLogger({ name: 'bench', level: 'warn' });
  const accountId = testing.uniqueId('bench-');
  const events = makeEvents(accountId);
  const metrics = platform.createMetrics('identity', { defaults: false });
  const app = buildIdentity(config, { logger, metrics });
  const kafka = platform.createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'bench', logger });
  const producer = new platform.CoalescingProducer({}, { kafka, logger, metrics: platform.createMetrics('bench', { defaults: false }) });
  try {
    // Topics, schema and subjects first, then fill the topic before the consumer starts.
    await platform.migrate(app.pool, { schema: config.DATABASE_SCHEMA, dir: join(root, 'services', 'identity', 'migrations') });
    await platform.ensureTopics(kafka, schemas.topicNames(config.TOPIC_PREFIX), config.KAFKA_PARTITIONS);
    await app.codec.registerAll();
    await producer.start();
    for (let i = 0; i < events.length; i += 5_000) {
      const slice = events.slice(i, i + 5_000);
      await producer.send(app.codec.topicName('identify'), await Promise.all(slice.map(async (m) => ({ key: schemas.userKey(m.accountId, m.event.userId), value: await app.codec.encode('identify', m) }))));
    }

    const baselineRate = await baseline(app.pool, events);

    await app.lifecycle.start();
    // Messages handled and committed by the consumer (a batch counts once its transaction and its produce are done).
    const count = async () => (await metrics.getSingleMetric('kana_consumer_messages_total').get()).values.reduce((n, v) => n + v.value, 0);
    // The clock starts at the first applied message, so the consumer group's join delay is not counted.
    const first = await testing.waitFor(async () => { const n = await count(); return n > 0 ? n : undefined; }, { timeoutMs: 60_000, intervalMs: 20 });
    const started = process.hrtime.bigint();
    await testing.waitFor(async () => (await count()) === events.length, { timeoutMs: 600_000, intervalMs: 50, what: 'all events applied' });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const identityRate = (events.length - first) / seconds;
    const users = Number((await app.pool.query('SELECT count(*) AS n FROM users')).rows[0].n);
    const sizes = (await metrics.getSingleMetric('kana_identity_batch_messages').get()).values;
    const steps = (await metrics.getSingleMetric('kana_identity_batch_seconds').get()).values;
    const batches = sizes.find((v) => v.metricName.endsWith('_count')).value;
    const stepSeconds = (step) => steps.find((v) => v.metricName.endsWith('_sum') && v.labels.step === step).value;
    process.stdout.write(`batches: ${batches}, mean ${(events.length / batches).toFixed(0)} messages; apply ${stepSeconds('apply').toFixed(2)} s, produce ${stepSeconds('produce').toFixed(2)} s (summed over partitions)\n`);
    report({ identityRate, baselineRate, users, batches, apply: stepSeconds('apply'), produce: stepSeconds('produce') });
  } finally {
    await producer.stop().catch(() => undefined);
    await app.lifecycle.stop();
    await app.pool.end().catch(() => undefined);
    await testing.dropSchema(config.DATABASE_SCHEMA).catch(() => undefined);
    await testing.deleteTopicsWithPrefix(config.TOPIC_PREFIX).catch(() => undefined);
  }
}

function report({ identityRate, baselineRate, users, batches, apply, produce }) {
  const ratio = identityRate / baselineRate;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    '## Identity',
    '',
    `Command: \`pnpm exec tsc -b services/identity && node bench/identity/run.js ${EVENTS}\``,
    '',
    `${EVENTS} identify events for ${users} users (${EVENTS_PER_USER} events each; name, email, billing id and one dropped trait),`,
    'pre-loaded on 6 partitions, consumed by one identity instance: decode through the registry, decide, one Postgres',
    'transaction per fetched batch (ordered row locks, per-field last-writer-wins strict on ties, one outbox row), produce',
    '`kana.identity.changes` with acks=all, commit offsets. The clock starts at the first applied message.',
    `The consumer saw ${batches} batches (mean ${(EVENTS / batches).toFixed(0)} messages).`,
    `Baseline, same run, same rows: plain multi-row \`INSERT … ON CONFLICT DO UPDATE\` in batches of ${BATCH}, straight from memory.`,
    '',
    '| measure | events/s |',
    '|---|---|',
    `| identity service (one instance) | ${identityRate.toFixed(0)} |`,
    `| baseline batched upserts | ${baselineRate.toFixed(0)} |`,
    `| **ratio** (target ≥ 0.5) | **${ratio.toFixed(2)}** |`,
    '',
    `Apply (Postgres transaction + decide) took ${apply.toFixed(2)} s and produce ${produce.toFixed(2)} s, summed over the partitions handled concurrently.`,
    '',
    'Where the time goes (profiled separately on the same machine, 40000 events in batches of ~5700): per batch one',
    'lock SELECT by userId/email/alias (~20% of the SQL time), one set-based UPDATE of the users (~45%: every update is',
    'non-HOT because email and billing id change, so all five indexes of `users` are written, against one primary key in',
    'the baseline), one INSERT of new users, one outbox row (~5%), COMMIT and one outbox DELETE. Outside Postgres the',
    'single Node thread spends ~1–2 s per 40000 events decoding identify messages through the registry codec (JSON',
    'parse + zod, platform code), ~0.4 s encoding the 40000 changes and ~1 s deciding and mapping rows (pg date',
    'parsing, GC). Kafka, the registry, Postgres and other engineers\' benches share the 2 CPUs, so figures vary',
    'between runs: on 2026-11-28 five runs gave 15.0–21.1k events/s and ratios 0.35, 0.35, 0.36, 0.41, 0.50 (a slow',
    'baseline), against 8–12k events/s and 0.18–0.24 before dropping the processed-messages table and the per-change',
    'outbox rows. Still below target; next steps: read/write field timestamps as epoch ms instead of parsing',
    'dates, emit one `updated` per user per batch (40000 → ~12000 changes to encode), drop the rarely used billing',
    'index in favour of a lookup at import time, and a decode fast path in the platform codec.',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}, local Kafka/Postgres of scripts/stack.sh.`,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  const file = join(root, 'BENCHMARKS.md');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nEach service writes its own section with `bench/<service>`.\n\n';
  const start = text.indexOf('## Identity');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next >= 0 ? `\n${text.slice(next + 1)}` : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  fs.writeFileSync(file, text);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
