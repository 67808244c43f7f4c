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
/** About the consumer's own batches (~5700 messages): bigger upserts are faster, so this baseline is reported too. */
const BIG_BATCH = 5_000;

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
async function baseline(pool, events, batch, table) {
  await pool.query(`CREATE TABLE ${table} (account_id text, user_id text, name text, email text, billing_id text, updated_at timestamptz,
                    PRIMARY KEY (account_id, user_id))`);
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += batch) {
    const rows = new Map();
    for (const { accountId, event } of events.slice(i, i + batch)) rows.set(event.userId, [accountId, event]);
    const list = [...rows.values()];
    await pool.query(
      `INSERT INTO ${table} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
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

    const baselineRate = await baseline(app.pool, events, BATCH, 'baseline_users');
    const bigBaselineRate = await baseline(app.pool, events, BIG_BATCH, 'baseline_users_big');

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
    report({ identityRate, baselineRate, bigBaselineRate, users, batches, apply: stepSeconds('apply'), produce: stepSeconds('produce') });
  } finally {
    await producer.stop().catch(() => undefined);
    await app.lifecycle.stop();
    await app.pool.end().catch(() => undefined);
    await testing.dropSchema(config.DATABASE_SCHEMA).catch(() => undefined);
    await testing.deleteTopicsWithPrefix(config.TOPIC_PREFIX).catch(() => undefined);
  }
}

function report({ identityRate, baselineRate, bigBaselineRate, users, batches, apply, produce }) {
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
    `| baseline in batches of ${BIG_BATCH}, for comparison | ${bigBaselineRate.toFixed(0)} (ratio ${(identityRate / bigBaselineRate).toFixed(2)}) |`,
    '',
    `Apply (Postgres transaction + decide) took ${apply.toFixed(2)} s and produce ${produce.toFixed(2)} s, summed over the partitions handled concurrently.`,
    '',
    'Where the time goes (profiled separately, `node --cpu-prof` and Postgres statements timed per batch): Postgres is',
    'not the gap. A batch of ~6700 events (~1700 users) is one transaction of BEGIN, one lock SELECT by userId/email/alias,',
    'one SELECT of deletions and aliases, one outbox takeover DELETE, one INSERT of new users and one UPDATE of known ones',
    '(both `unnest` arrays), one outbox row, COMMIT; then the produce and one DELETE of the outbox row. The users are written',
    'once per batch, not once per event, so Postgres spends about as much CPU on a batch as on the baseline\'s upserts of',
    'the same events (50–80 ms against 50–70 ms per 6668 events, from /proc). The gap is the single Node thread, ~92% busy',
    'while the consumer runs: garbage collection ~28% (batches of decoded messages stay alive across the Postgres and',
    'Kafka round trips, so every scavenge copies them), the apply step ~15% (decide, the in-memory view, SQL parameters),',
    'decoding ~11% (JSON parse, the registry client\'s JSON-Schema check, then zod: platform/schemas code), kafkajs fetch',
    'and produce ~10%. Changes are one per user per batch (a user\'s later updates fold into its pending `created`/`updated`),',
    '10000 instead of 40000 to store, encode and produce; field timestamps cross the wire as epoch ms, not Dates.',
    'Smaller fetches are slower (1 MB per partition: ~0.25), because a user\'s events then span batches and the UPDATE path',
    'runs; 3 or 6 partitions at a time made no difference beyond the noise. Kafka, the registry, Postgres and other',
    'engineers\' benches share the 2 CPUs, so single runs swing widely (0.3–0.8 seen while others ran benches).',
    'Three runs of the command above after these changes (2026-11-28, this machine): ratios 0.75 (baseline slowed by',
    'another bench to 43.6k), 0.56, 0.58 at 32.6k, 56.9k, 53.3k events/s; against the 5000-row baseline 0.32, 0.51, 0.52.',
    'Before them, same machine: 0.33 (20.7k events/s; 0.34 and 0.42 in two profiled runs).',
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
