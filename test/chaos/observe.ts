import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { STACK } from '@kana/platform/testing';
import { topicNames, type TopicKey } from '@kana/schemas';
import type { AdminClient, SystemUnderTest } from '../system/harness';

// What the system ended up with, read the two ways a user could check it:
// the admin API through the gateway, and the usage schema's rows directly
// (the API sums; only the rows show a record stored twice).

export interface Actual {
  /** key `${account}|${messageId}|${featureId}` → rows and their content */
  records: Map<string, { n: number; delta: number; userId: string }>;
  totals: Map<number, Map<string, number>>;
  users: Map<number, Map<string, { name: string | null; email: string | null; billingId: string | null }>>;
  unmapped: Map<number, Set<string>>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ok<T = any>(pending: Promise<{ status: number; body: T }>, what: string): Promise<T> {
  const reply = await pending;
  if (reply.status !== 200) throw new Error(`${what} answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 300)}`);
  return reply.body;
}

async function allPages(dash: AdminClient, path: string): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: any[]; nextCursor: string | null } = await ok(dash.get(`${path}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), path);
    rows.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

export async function dbRecords(system: SystemUnderTest, accountIds: string[]): Promise<Actual['records']> {
  const client = new Client({ connectionString: STACK.DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT account_id, message_id, feature_id, count(*)::int AS n, sum(delta)::float8 AS delta, min(user_id) AS user_id
         FROM "${system.schema('usage')}".usage_records GROUP BY 1, 2, 3`,
    );
    const records: Actual['records'] = new Map();
    for (const row of rows) records.set(`${accountIds.indexOf(row.account_id)}|${row.message_id}|${row.feature_id}`, { n: row.n, delta: row.delta, userId: row.user_id });
    return records;
  } finally {
    await client.end();
  }
}

export async function readActual(system: SystemUnderTest, accountIds: string[], admins: AdminClient[]): Promise<Actual> {
  const actual: Actual = { records: await dbRecords(system, accountIds), totals: new Map(), users: new Map(), unmapped: new Map() };
  for (const [account, dash] of admins.entries()) {
    const totals = await allPages(dash, '/v1/usage');
    actual.totals.set(account, new Map(totals.map((row) => [`${row.userId}|${row.featureId}`, Number(row.total)])));
    const users = await allPages(dash, '/v1/users');
    actual.users.set(account, new Map(users.map((u) => [u.userId, { name: u.name, email: u.email, billingId: u.billingId }])));
    actual.unmapped.set(account, new Set((await allPages(dash, '/v1/events/unmapped')).map((e) => e.messageId as string)));
  }
  return actual;
}

/**
 * Every consumer group of the system and the topic it consumes. Listed rather than read from the
 * broker: a group that never committed has no offsets to list, and its whole topic is lag.
 */
const GROUP_TOPICS: Record<string, TopicKey> = {
  identity: 'identify',
  'kana-usage.track': 'track',
  'kana-usage.reprocess': 'reprocess',
  'kana-usage.identity': 'identityChanges',
  'kana-rules.unmapped': 'unmapped',
  'kana-rules.reprocessed': 'reprocessed',
};

/** Messages not yet consumed by every consumer group of this system (committed offset behind the end). */
export async function consumerLag(system: SystemUnderTest): Promise<number> {
  const admin = new Kafka({ brokers: [STACK.KAFKA_BROKERS], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    const known = new Set(Object.keys(GROUP_TOPICS).map((group) => `${system.id}.${group}`));
    const unknown = (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(`${system.id}.`) && !known.has(id));
    if (unknown.length > 0) throw new Error(`consumer groups the chaos run does not know the topic of: ${unknown.join(', ')}`);
    const existing = new Set(await admin.listTopics());
    const topics = topicNames(`${system.id}.`);
    let lag = 0;
    for (const [group, key] of Object.entries(GROUP_TOPICS)) {
      const topic = topics[key];
      if (!existing.has(topic)) continue;
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
      const [committed] = await admin.fetchOffsets({ groupId: `${system.id}.${group}`, topics: [topic] });
      for (const [partition, end] of ends) {
        const offset = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
        lag += Math.max(0, end - Math.max(0, offset));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Messages on this system's dead-letter topic. The workload holds only valid events, so each
 * one is an event some service gave up on: not counted, whatever the other figures say.
 */
export async function deadLettered(system: SystemUnderTest): Promise<number> {
  const admin = new Kafka({ brokers: [STACK.KAFKA_BROKERS], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    const topic = `${system.id}.kana.dlq`;
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Reprocess jobs still running, with their progress (a job stuck there is a finding of its own). */
export async function runningJobs(admins: AdminClient[]): Promise<string[]> {
  const running: string[] = [];
  for (const [account, dash] of admins.entries()) {
    const jobs: { data: { id: string; status: string; total: number; processed: number; mapped: number }[] } = await ok(dash.get('/v1/reprocess-jobs?limit=1000'), 'GET /v1/reprocess-jobs');
    for (const job of jobs.data.filter((j) => j.status === 'running')) running.push(`account ${account} job ${job.id} ${job.processed}/${job.total} processed, ${job.mapped} mapped`);
  }
  return running;
}

/**
 * Waits until the dust settled: no consumer lag, no running reprocess job, and
 * the stored record count equal to the expected one or unchanged for `quietMs`.
 * Bounded by `timeoutMs`; returns what it saw last (the comparison shows the rest).
 */
export async function settle(
  system: SystemUnderTest,
  accountIds: string[],
  admins: AdminClient[],
  expectedRecords: number,
  options: { timeoutMs: number; quietMs: number; log: (line: string) => void },
): Promise<{ settled: boolean; waitedMs: number; lag: number; running: string[]; records: number }> {
  const start = Date.now();
  let last = { lag: -1, running: [] as string[], records: -1 };
  let stableSince = Date.now();
  for (;;) {
    try {
      const now = { lag: await consumerLag(system), running: await runningJobs(admins), records: [...(await dbRecords(system, accountIds)).values()].reduce((sum, r) => sum + r.n, 0) };
      if (now.records !== last.records || now.lag !== last.lag) stableSince = Date.now();
      last = now;
      // Settled: nothing left to consume and either every job finished with the expected count
      // reached, or nothing moved for quietMs (a job stuck in 'running' is reported, not waited on forever).
      const done = now.lag === 0 && now.running.length === 0 && now.records === expectedRecords;
      if (done || (now.lag === 0 && Date.now() - stableSince >= options.quietMs)) {
        return { settled: true, waitedMs: Date.now() - start, ...now };
      }
    } catch (error) {
      options.log(`settle: ${(error as Error).message}`);
    }
    if (Date.now() - start > options.timeoutMs) return { settled: false, waitedMs: Date.now() - start, ...last };
    await sleep(2_000);
  }
}
