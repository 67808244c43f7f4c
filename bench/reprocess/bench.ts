// Reprocess benchmark: how fast a rule created after the fact maps stored
// unmapped events (rules walks its store and republishes, usage maps them),
// against the live path's rate in the same run (track events through usage
// with the rule already in place). Both through the real rules and usage
// services in this process, on the local stack.
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ACCOUNT_HEADER, CoalescingProducer, createKafka, createLogger, createMetrics, createPool, ensureTopics } from '@kana/platform';
import { STACK, deleteTopicsWithPrefix, dropSchema, uniqueId } from '@kana/platform/testing';
import { EventCodec, topicNames, userKey, type TrackMessage } from '@kana/schemas';

type RulesApp = typeof import('../../services/rules/dist/app');
type RulesConfig = typeof import('../../services/rules/dist/config');
type UsageApp = typeof import('../../services/usage/dist/app');
type UsageConfig = typeof import('../../services/usage/dist/config');
const services = join(__dirname, '..', '..', '..', 'services');
// RULES_DIST / USAGE_DIST: another build of a service (its dist/, with migrations/ beside it), e.g. an older
// commit for a before/after comparison on the same machine, or a change under test without touching the service.
const rulesDist = process.env.RULES_DIST ?? join(services, 'rules', 'dist');
const { build } = require(join(rulesDist, 'app')) as RulesApp;
const { rulesEnv } = require(join(rulesDist, 'config')) as RulesConfig;
const usageDist = process.env.USAGE_DIST ?? join(services, 'usage', 'dist');
const { buildUsage } = require(join(usageDist, 'app')) as UsageApp;
const { usageEnv } = require(join(usageDist, 'config')) as UsageConfig;

const STORED = Number(process.env.STORED ?? 1_000_000);
const LIVE = Number(process.env.LIVE ?? 200_000);
const PARTITIONS = Number(process.env.PARTITIONS ?? 6);
const EVENT = 'Message Sent';

function liveEvent(accountId: string, index: number): TrackMessage {
  const timestamp = new Date(Date.UTC(2026, 10, 1) + index * 1000).toISOString();
  return {
    schemaVersion: 1,
    accountId,
    requestId: `live-${index}`,
    receivedAt: timestamp,
    event: { type: 'track', event: EVENT, userId: `user-${index % 1000}`, messageId: `live-${index}`, timestamp, context: {}, integrations: {}, properties: { plan: 'pro' } },
  };
}

async function call(url: string, accountId: string, method: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json', [ACCOUNT_HEADER]: accountId }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

async function main(): Promise<void> {
  const id = uniqueId('rbench');
  const prefix = `${id}.`;
  const logger = createLogger({ name: 'reprocess-bench', level: process.env.BENCH_LOG_LEVEL ?? 'error' });
  const common = { ...STACK, REDIS_KEY_PREFIX: `${id}:`, TOPIC_PREFIX: prefix, KAFKA_PARTITIONS: String(PARTITIONS), LOG_LEVEL: 'error', PORT: '0' };
  const rulesConfig = rulesEnv.parse({ ...common, DATABASE_SCHEMA: `rules_${id}`.toLowerCase(), REPROCESS_PAGE_SIZE: process.env.PAGE_SIZE ?? '5000' });
  const rules = build(rulesConfig, { logger });
  let usage: ReturnType<typeof buildUsage> | undefined;
  const usageSchema = `usage_${id}`.toLowerCase();
  const liveAccount = 'bench_live';
  const replayAccount = 'bench_replay';
  try {
    await rules.lifecycle.start();
    const address = rules.http.server.address();
    const rulesUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    for (const accountId of [liveAccount, replayAccount]) await call(rulesUrl, accountId, 'POST', '/v1/features', { id: 'messages', name: 'Messages' });
    await call(rulesUrl, liveAccount, 'POST', '/v1/rules', { featureId: 'messages', eventName: EVENT, conditions: [{ property: 'plan', operator: 'eq', value: 'pro' }] });

    // Live input in Kafka before usage starts, so both paths measure consumption.
    const topics = topicNames(prefix);
    const kafka = createKafka({ brokers: [STACK.KAFKA_BROKERS], clientId: 'reprocess-bench', logger });
    await ensureTopics(kafka, topics, PARTITIONS);
    const codec = EventCodec.connect(STACK.SCHEMA_REGISTRY_URL, topics);
    await codec.registerAll();
    const producer = new CoalescingProducer({ maxBatchMessages: 5_000 }, { kafka, logger, metrics: createMetrics('bench', { defaults: false }) });
    await producer.start();
    for (let i = 0; i < LIVE; i += 5_000) {
      const chunk = Array.from({ length: Math.min(5_000, LIVE - i) }, (_, k) => liveEvent(liveAccount, i + k));
      await producer.send(topics.track, await Promise.all(chunk.map(async (m) => ({ key: userKey(m.accountId, m.event.userId), value: await codec.encode('track', m) }))));
    }
    await producer.stop();

    // The stored unmapped events, bulk-loaded as if usage had reported them before any rule existed.
    const loadStarted = performance.now();
    await rules.pool.query(
      `INSERT INTO unmapped_events (account_id, event_time, message_id, user_id, event_name, feature_id, reason, rules_version, request_id, received_at, event)
       SELECT $1, t, 'stored-' || g, 'user-' || (g % 1000), $3, NULL, 'no_rule', 0, 'req-' || g, '2026-11-01T00:00:00.000Z',
         jsonb_build_object('type', 'track', 'event', $3::text, 'userId', 'user-' || (g % 1000), 'messageId', 'stored-' || g,
           'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'context', '{}'::jsonb, 'integrations', '{}'::jsonb,
           'properties', jsonb_build_object('plan', 'pro'))
       FROM generate_series(1, $2::int) AS g, LATERAL (SELECT timestamptz '2026-11-01T00:00:00Z' + g * interval '1 second') AS x(t)`,
      [replayAccount, STORED, EVENT],
    );
    await rules.pool.query('ANALYZE unmapped_events');
    process.stdout.write(`produced ${LIVE} live events; stored ${STORED} unmapped events in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s\n`);

    // USAGE_CONCURRENCY: usage's CONSUMER_CONCURRENCY (its reprocess consumer takes half), to test whether usage is the limit.
    const usageConfig = usageEnv.parse({ ...common, DATABASE_SCHEMA: usageSchema, RULES_URL: rulesUrl, ...(process.env.USAGE_CONCURRENCY ? { CONSUMER_CONCURRENCY: process.env.USAGE_CONCURRENCY } : {}) });
    usage = buildUsage(usageConfig, { logger });
    const usagePool = createPool({ url: STACK.DATABASE_URL, schema: usageSchema, max: 2 });
    usagePool.on('error', () => undefined); // a lost idle connection is replaced on the next query
    const records = async (accountId: string) =>
      Number((await usagePool.query<{ n: string }>('SELECT count(*) AS n FROM usage_records WHERE account_id = $1', [accountId])).rows[0]!.n);
    const until = async (accountId: string, n: number) => {
      while ((await records(accountId)) < n) await new Promise((resolve) => setTimeout(resolve, 200));
      return performance.now();
    };

    const liveStarted = performance.now();
    await usage.lifecycle.start();
    const liveSeconds = ((await until(liveAccount, LIVE)) - liveStarted) / 1000;
    process.stdout.write(`live: ${LIVE} events mapped in ${liveSeconds.toFixed(1)} s\n`);

    // Usage's own step timings (histogram sums), read before and after the replay: where usage spends the replay.
    const usageSteps = async () => {
      const metrics = await usage!.metrics.getMetricsAsJSON();
      const steps: Record<string, { seconds: number; batches: number }> = {};
      for (const value of metrics.find((m) => m.name === 'kana_usage_batch_step_seconds')?.values ?? []) {
        const step = String(value.labels.step);
        steps[step] ??= { seconds: 0, batches: 0 };
        if ((value as { metricName?: string }).metricName?.endsWith('_sum')) steps[step].seconds = value.value;
        if ((value as { metricName?: string }).metricName?.endsWith('_count')) steps[step].batches = value.value;
      }
      return steps;
    };
    // The rules side's own figures from its /metrics: verdict transactions, walker produce acks.
    const rulesFigures = async () => {
      const text = await (await fetch(`${rulesUrl}/metrics`)).text();
      // Sum of every series of the metric whose labels include `label` (all of them without one).
      const read = (name: string, label = '') =>
        text
          .split('\n')
          .filter((line) => (line.startsWith(name + ' ') || line.startsWith(name + '{')) && line.includes(label))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      const step = (name: string) => read('kana_rules_verdict_batch_seconds_sum', `step="${name}"`);
      return {
        verdictOutcomesSeconds: step('outcomes'),
        verdictDeleteSeconds: step('delete'),
        verdictCommitSeconds: step('commit'),
        verdictBatches: read('kana_rules_verdict_batch_seconds_count', 'step="outcomes"'),
        produceAckSeconds: read('kana_producer_ack_seconds_sum'),
        produceSends: read('kana_producer_ack_seconds_count'),
      };
    };
    const rulesBefore = await rulesFigures();
    const stepsBefore = await usageSteps();
    const replayStarted = performance.now();
    await call(rulesUrl, replayAccount, 'POST', '/v1/rules', { featureId: 'messages', eventName: EVENT, conditions: [{ property: 'plan', operator: 'eq', value: 'pro' }] });
    // When the rules side finished sending (walk done), to tell whose time the replay is.
    let walkSeconds = 0;
    let recordsAtWalkEnd = 0;
    const watchWalk = (async () => {
      for (;;) {
        const { rows } = await rules.pool.query('SELECT walk_done FROM reprocess_jobs WHERE account_id = $1 ORDER BY created_at DESC LIMIT 1', [replayAccount]);
        if (rows[0]?.walk_done) {
          walkSeconds = (performance.now() - replayStarted) / 1000;
          recordsAtWalkEnd = await records(replayAccount);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const replaySeconds = ((await until(replayAccount, STORED)) - replayStarted) / 1000;
    await watchWalk;
    process.stdout.write(`reprocess: ${STORED} stored events mapped in ${replaySeconds.toFixed(1)} s\n`);
    // What a user watching the job sees: GET /v1/reprocess-jobs/:id when the last record appeared, and when it says done.
    const jobId = (await rules.pool.query('SELECT id FROM reprocess_jobs WHERE account_id = $1 ORDER BY created_at DESC LIMIT 1', [replayAccount])).rows[0].id as string;
    const jobView = async () => {
      const response = await fetch(`${rulesUrl}/v1/reprocess-jobs/${jobId}`, { headers: { [ACCOUNT_HEADER]: replayAccount } });
      const { status, total, processed, mapped } = (await response.json()) as Record<string, unknown>;
      return { status, total, processed, mapped };
    };
    const stepsAfter = await usageSteps();
    const usageReplaySteps = Object.fromEntries(
      Object.entries(stepsAfter).map(([step, after]) => [
        step,
        { seconds: Number((after.seconds - (stepsBefore[step]?.seconds ?? 0)).toFixed(2)), batches: after.batches - (stepsBefore[step]?.batches ?? 0) },
      ]),
    );
    const jobAtLastRecord = await jobView();
    const rulesAfter = await rulesFigures();
    const rulesReplay = Object.fromEntries(Object.entries(rulesAfter).map(([key, value]) => [key, Number((value - rulesBefore[key as keyof typeof rulesBefore]).toFixed(2))]));
    let job = jobAtLastRecord;
    while (job.status === 'running' && performance.now() - replayStarted < (replaySeconds + 600) * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await jobView();
    }
    const doneSeconds = (performance.now() - replayStarted) / 1000;
    process.stdout.write(`job ${job.status} after ${doneSeconds.toFixed(1)} s: ${JSON.stringify(job)}\n`);
    await usagePool.end();

    const figures: Figures = {
      stored: STORED,
      live: LIVE,
      liveRate: Math.round(LIVE / liveSeconds),
      reprocessRate: Math.round(STORED / replaySeconds),
      ratio: LIVE / liveSeconds > 0 ? STORED / replaySeconds / (LIVE / liveSeconds) : 0,
      replaySeconds,
      walkSeconds,
      // After the walk only usage (and rules' verdict consumer) work: usage's own rate on the reprocess topic.
      recordsAtWalkEnd,
      usageTailRate: replaySeconds > walkSeconds ? Math.round((STORED - recordsAtWalkEnd) / (replaySeconds - walkSeconds)) : null,
      doneSeconds,
      usageReplaySteps,
      rulesReplay,
      jobAtLastRecord,
      job,
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    // BENCH_WRITE=0: an iteration run that leaves BENCHMARKS.md alone.
    if (process.env.BENCH_WRITE !== '0') await writeSection(figures);
  } finally {
    await usage?.lifecycle.stop();
    await rules.lifecycle.stop();
    await dropSchema(usageSchema);
    await dropSchema(rulesConfig.DATABASE_SCHEMA);
    await deleteTopicsWithPrefix(prefix);
  }
}

interface Figures {
  stored: number;
  live: number;
  liveRate: number;
  reprocessRate: number;
  ratio: number;
  replaySeconds: number;
  walkSeconds: number;
  recordsAtWalkEnd: number;
  usageTailRate: number | null;
  doneSeconds: number;
  usageReplaySteps: Record<string, { seconds: number; batches: number }>;
  rulesReplay: Record<string, number>;
  jobAtLastRecord: unknown;
  job: unknown;
}

async function writeSection(f: Figures): Promise<void> {
  const file = join(__dirname, '..', '..', '..', 'BENCHMARKS.md');
  const steps = (record: Record<string, { seconds: number }>) =>
    Object.entries(record)
      .map(([step, value]) => `${step} ${value.seconds.toFixed(1)} s`)
      .join(', ');
  const r = f.rulesReplay;
  const section = [
    '<!-- reprocess:start -->',
    '## Reprocess',
    '',
    `Command: \`STORED=${f.stored} LIVE=${f.live} bench/reprocess/run.sh\` (${new Date().toISOString().slice(0, 10)}, this ${cpus().length}-core machine, local stack, ${PARTITIONS} partitions).`,
    'One rules and one usage instance in the bench process. Live: track events already in Kafka, rule in place, timed from usage start',
    'to the last usage record. Reprocess: stored unmapped events (bulk-loaded), timed from `POST /v1/rules` to the last usage record',
    '(walk the store, republish to kana.track.reprocess, usage maps them).',
    '',
    '| figure | value | target |',
    '|---|---|---|',
    `| live path events/s | ${f.liveRate} | |`,
    `| reprocess events/s (${f.stored} stored events, ${f.replaySeconds.toFixed(1)} s) | ${f.reprocessRate} | |`,
    `| ratio reprocess / live | ${f.ratio.toFixed(2)} | ≥ 0.8 |`,
    `| rules side: store walked and republished (events/s) | ${Math.round(f.stored / f.walkSeconds)} (${f.walkSeconds.toFixed(1)} s) | |`,
    `| usage after the walk ended: events/s mapped from kana.track.reprocess (${f.stored - f.recordsAtWalkEnd} events left then) | ${f.usageTailRate ?? '—'} | |`,
    `| job (GET /v1/reprocess-jobs/:id) when the last usage record appeared | \`${JSON.stringify(f.jobAtLastRecord)}\` | |`,
    `| job when it said ${String((f.job as { status: unknown }).status)} (${f.doneSeconds.toFixed(1)} s after the rule) | \`${JSON.stringify(f.job)}\` | |`,
    '',
    `During the replay, summed over batches in flight: usage's batch steps ${steps(f.usageReplaySteps)};`,
    `rules' verdict consumer (${r.verdictBatches} batches) outcomes ${r.verdictOutcomesSeconds?.toFixed(1)} s, unmapped deletes ${r.verdictDeleteSeconds?.toFixed(1)} s, commit ${r.verdictCommitSeconds?.toFixed(1)} s;`,
    `rules' produce acks ${r.produceAckSeconds?.toFixed(1)} s over ${r.produceSends} sends.`,
    '<!-- reprocess:end -->',
  ].join('\n');
  const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const pattern = /<!-- reprocess:start -->[\s\S]*<!-- reprocess:end -->/;
  await writeFile(file, pattern.test(current) ? current.replace(pattern, section) : `${current.trimEnd()}\n\n${section}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
