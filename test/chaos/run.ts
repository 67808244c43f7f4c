import { SystemUnderTest, type AdminClient } from '../system/harness';
import { compare } from './compare';
import { FaultController, schedule, type FaultPlan } from './faults';
import { deadLettered, readActual, settle } from './observe';
import { expectedOf } from './oracle';
import { writeReliability, type Figures } from './report';
import { Sender } from './sender';
import { FEATURES, generate, MIDWAY, MIDWAY_FEATURES, MIDWAY_RULES, RULES } from './workload';

// One chaos run: start the system, set the accounts up, send the workload
// while the controller injects faults, wait until the dust settles, compare
// with the oracle, write RELIABILITY.md. Sizes come from the environment so
// the CI run and `pnpm test:chaos` are the same code.

export interface ChaosSize extends FaultPlan {
  size: 'ci' | 'full';
  seed: number;
  events: number;
  accounts: number;
  usersPerAccount: number;
  rate: number;
  settleTimeoutMs: number;
}

export function sizeFromEnv(env: NodeJS.ProcessEnv = process.env): ChaosSize {
  const full = env.CHAOS_SIZE === 'full';
  const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  return {
    size: full ? 'full' : 'ci',
    seed: num('CHAOS_SEED', 7),
    events: num('CHAOS_EVENTS', full ? 100_000 : 10_000),
    accounts: num('CHAOS_ACCOUNTS', full ? 4 : 3),
    usersPerAccount: num('CHAOS_USERS', full ? 1_000 : 150),
    rate: num('CHAOS_RATE', full ? 400 : 100),
    kills: num('CHAOS_KILLS', full ? 12 : 4),
    kafkaRestarts: num('CHAOS_KAFKA_RESTARTS', full ? 2 : 1),
    postgresRestarts: num('CHAOS_POSTGRES_RESTARTS', 1),
    redisFlushes: num('CHAOS_REDIS_FLUSHES', full ? 2 : 1),
    scales: num('CHAOS_SCALES', 1),
    settleTimeoutMs: num('CHAOS_SETTLE_MS', full ? 600_000 : 180_000),
  };
}

const log = (line: string) => process.stdout.write(`chaos: ${line}\n`);

/** Admin calls that must eventually succeed (set-up, the midway rules) are retried like Segment would. */
async function adminCall(dash: AdminClient, path: string, body: unknown, okStatuses: number[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const reply = await dash.post(path, body).catch((error: Error) => ({ status: 0, body: error.message }));
    if (okStatuses.includes(reply.status)) return;
    if (reply.status >= 400 && reply.status < 500) throw new Error(`POST ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    if (attempt > 120) throw new Error(`POST ${path} kept failing: ${reply.status} ${JSON.stringify(reply.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

export async function runChaos(size: ChaosSize, command: string): Promise<Figures> {
  const t0 = Date.now();
  const workload = generate({ seed: size.seed, events: size.events, accounts: size.accounts, usersPerAccount: size.usersPerAccount });
  log(`${size.size} size: ${workload.distinct} events, ${workload.deliveries} deliveries in ${workload.requests.length} requests, seed ${size.seed}`);
  const system = await SystemUnderTest.start({ logLevel: process.env.CHAOS_LOG_LEVEL ?? 'info' });
  log(`system ${system.id}, logs in ${system.logDir}`);
  let keep = process.env.CHAOS_KEEP === '1';
  let controller: FaultController | undefined;
  try {
    const accounts = [];
    for (let i = 0; i < size.accounts; i++) accounts.push(await system.createAccount(`chaos-${i}`));
    const admins = accounts.map((account) => system.admin(account.apiKey));
    for (const dash of admins) {
      for (const id of FEATURES) await adminCall(dash, '/v1/features', { id, name: id }, [201]);
      for (const rule of RULES) await adminCall(dash, '/v1/rules', rule, [201]);
    }

    // The first request past MIDWAY of the deliveries (not of the requests: the workload ends in
    // single-event requests, and 40% of the requests held 91-98% of the deliveries at CI size, so the
    // late rules came after nearly every fault and their reprocessing went through none).
    let midwayIndex = 0;
    let beforeMidway = 0;
    while (midwayIndex < workload.requests.length && beforeMidway < MIDWAY * workload.deliveries) beforeMidway += workload.requests[midwayIndex++]!.events.length;
    const midwayProgress = beforeMidway / workload.deliveries;
    const sender = new Sender(workload, {
      gatewayUrl: () => system.gatewayUrl,
      apiKeys: accounts.map((a) => a.apiKey),
      rate: size.rate,
      concurrency: 8,
      giveUpMs: 300_000,
      midwayIndex,
      onMidway: async () => {
        log('midway: creating the late features and rules');
        for (const dash of admins) {
          for (const id of MIDWAY_FEATURES) await adminCall(dash, '/v1/features', { id, name: id }, [201, 409]);
          // A retried POST /v1/rules may create the rule twice: same feature, so the same records.
          for (const rule of MIDWAY_RULES) await adminCall(dash, '/v1/rules', rule, [201]);
        }
      },
    });
    controller = new FaultController(system, size.seed, log);
    let loadDone = false;
    const tLoad = Date.now();
    const load = sender.run().finally(() => (loadDone = true));
    await Promise.all([load, controller!.run(schedule(size.seed, size, midwayProgress), { progress: () => (loadDone ? 1 : sender.progress), inFlight: () => sender.inFlight, midwayReached: () => sender.midwayReached })]);
    await load;
    const loadMs = Date.now() - tLoad;
    await controller.finish();
    log(`load done in ${(loadMs / 1000).toFixed(0)} s: ${sender.stats.acknowledgedDeliveries} deliveries acknowledged, ${sender.stats.attempts} attempts`);

    const expected = expectedOf(sender.acked);
    const acked = new Set(sender.acked.map(({ account, event }) => `${account}|${event.messageId}`));
    const maybe = new Set([...sender.unacknowledged].filter((key) => !acked.has(key)));
    const accountIds = accounts.map((a) => a.accountId);
    const settled = await settle(system, accountIds, admins, expected.records.size, { timeoutMs: size.settleTimeoutMs, quietMs: 30_000, log });
    log(`settle: ${JSON.stringify(settled)}`);
    const actual = await readActual(system, accountIds, admins);
    const verdict = compare(expected, actual, maybe);
    const figures: Figures = {
      size: size.size,
      command,
      seed: size.seed,
      accounts: size.accounts,
      users: size.usersPerAccount,
      distinct: workload.distinct,
      deliveries: workload.deliveries,
      acknowledged: acked.size,
      send: sender.stats,
      faults: controller.done,
      unexpectedExits: controller.unexpectedExits,
      settled: settled.settled,
      jobsStillRunning: settled.running,
      deadLettered: await deadLettered(system),
      settleMs: settled.waitedMs,
      loadMs,
      totalMs: Date.now() - t0,
      expectedRecords: expected.records.size,
      storedRecords: [...actual.records.values()].reduce((sum, r) => sum + r.n, 0),
      verdict,
    };
    keep ||= verdict.lost > 0 || verdict.doubleCounted > 0;
    log(`wrote ${writeReliability(figures)}`);
    return figures;
  } finally {
    controller?.stop();
    await system.stop();
    if (keep) log(`kept schemas, topics and Redis keys of ${system.id} for inspection`);
    else await system.cleanup();
  }
}
