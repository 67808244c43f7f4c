import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { STACK } from '@kana/platform/testing';
import type { Instance, SystemUnderTest } from '../system/harness';
import { REPO, type ServiceName } from '../system/processes';
import { rng } from './workload';

// The fault controller: at random moments of the load (drawn from the seed,
// paced on the share of the workload already answered) it kill -9s and
// restarts usage, identity, rules and gateway instances in turn (a killed
// gateway drops the requests in flight, which the sender retries as Segment
// does; a killed rules service leaves its unmapped-store and verdict
// consumers and any reprocess walk to resume), restarts the Kafka broker and
// Postgres, deletes this system's Redis keys, and scales the usage consumer
// group 1 → 3 → 1. Faults run one at a time. A supervisor restarts any
// instance that exits on its own, as `restart: unless-stopped` does in
// docker-compose.yml, and counts it: a service should survive the faults.

const KILLS = ['kill usage', 'kill identity', 'kill rules', 'kill gateway'] as const;
type KillKind = (typeof KILLS)[number];

export type FaultKind = KillKind | 'restart kafka' | 'restart postgres' | 'flush redis' | 'scale usage 1→3' | 'scale usage 3→1';

export interface FaultPlan {
  kills: number;
  kafkaRestarts: number;
  postgresRestarts: number;
  redisFlushes: number;
  scales: number;
}

export interface FaultRecord {
  kind: FaultKind;
  at: number;
  ms: number;
  detail: string;
}

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fault and the load progress (0..1) at which it starts; `midway`: as soon as the late rules are being created. */
export interface Fault {
  kind: FaultKind;
  at: number;
  midway?: true;
}

/**
 * Faults in the order they start. The first rules kill waits for the moment
 * the late rules are created (or `midway`, the progress where that should
 * be), so that it lands on their reprocess jobs.
 */
export function schedule(seed: number, plan: FaultPlan, midway: number): Fault[] {
  const random = rng(seed ^ 0x5eed);
  const point = () => 0.05 + random() * 0.8;
  const faults: Fault[] = [];
  for (let i = 0; i < plan.kills; i++) {
    const kind = KILLS[i % KILLS.length]!;
    const at = point(); // drawn for every kill, so that the seed gives the other faults the same points
    faults.push(i === KILLS.indexOf('kill rules') ? { kind, at: midway, midway: true } : { kind, at });
  }
  for (let i = 0; i < plan.kafkaRestarts; i++) faults.push({ kind: 'restart kafka', at: point() });
  for (let i = 0; i < plan.postgresRestarts; i++) faults.push({ kind: 'restart postgres', at: point() });
  for (let i = 0; i < plan.redisFlushes; i++) faults.push({ kind: 'flush redis', at: point() });
  for (let i = 0; i < plan.scales; i++) {
    const up = 0.05 + random() * 0.5;
    faults.push({ kind: 'scale usage 1→3', at: up }, { kind: 'scale usage 3→1', at: up + 0.15 + random() * 0.2 });
  }
  return faults.sort((a, b) => a.at - b.at);
}

export class FaultController {
  readonly done: FaultRecord[] = [];
  readonly unexpectedExits: string[] = [];
  private readonly busy = new Set<Instance>();
  private readonly retired = new Set<Instance>();
  private readonly random: () => number;
  private readonly started = Date.now();
  private supervising: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;
  private readonly restarts: Promise<void>[] = [];

  constructor(private readonly system: SystemUnderTest, private readonly seed: number, private readonly log: (line: string) => void) {
    this.random = rng(seed ^ 0xfa17);
  }

  /**
   * Runs the schedule, pacing on `load.progress()`; every fault is executed even if the load ends first.
   * The gateway is killed while `load.inFlight()` says requests are waiting for their answer.
   */
  async run(faults: Fault[], load: { progress(): number; inFlight(): number; midwayReached(): boolean }): Promise<void> {
    this.supervise();
    for (const fault of faults) {
      while (load.progress() < fault.at && !(fault.midway && load.midwayReached())) await sleep(100);
      const when = fault.midway ? 'midway, the late rules being created' : `${(fault.at * 100).toFixed(0)}% of the load`;
      const t0 = Date.now();
      const detail = await this.inject(fault, () => load.inFlight());
      this.done.push({ kind: fault.kind, at: (t0 - this.started) / 1000, ms: Date.now() - t0, detail });
      this.log(`fault ${fault.kind} at ${when} (${detail}), ${Date.now() - t0} ms`);
    }
  }

  /** Every instance that should run is running (restarting those that exited); stops supervising. */
  async finish(): Promise<void> {
    await Promise.all(this.restarts);
    clearInterval(this.supervising);
    while (this.checking) await sleep(100);
    await this.restartExited();
  }

  private supervise(): void {
    this.supervising = setInterval(() => void this.restartExited(), 1_000);
  }

  private async restartExited(): Promise<void> {
    if (this.checking) return; // a start can outlast the 1 s tick
    this.checking = true;
    try {
      await this.restartExitedOnce();
    } finally {
      this.checking = false;
    }
  }

  private async restartExitedOnce(): Promise<void> {
    for (const name of ['gateway', 'identity', 'usage', 'rules'] as const) {
      for (const instance of this.system.instances[name]) {
        if (instance.running || this.busy.has(instance) || this.retired.has(instance)) continue;
        const exit = await instance.exited();
        this.unexpectedExits.push(`${name}#${instance.spec.index} at ${((Date.now() - this.started) / 1000).toFixed(0)} s (code ${exit?.code}, signal ${exit?.signal})`);
        this.log(`supervisor: ${name}#${instance.spec.index} exited on its own (code ${exit?.code}, signal ${exit?.signal}; see ${instance.spec.logFile}); restarting`);
        await this.withBusy(instance, () => this.startUntilUp(instance)).catch(() => undefined);
      }
    }
  }

  /** Like `restart: unless-stopped`: again and again until it is up (e.g. while Postgres is still down). */
  private async startUntilUp(instance: Instance): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await instance.start(120_000);
      } catch (error) {
        if (this.stopped) throw error;
        this.log(`${instance.name}#${instance.spec.index} did not come up (attempt ${attempt}): ${(error as Error).message.split('\n')[0]}`);
        await sleep(2_000);
      }
    }
  }

  /** Stops supervising (also after a failure, so no process is restarted behind the test's back). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.supervising);
  }

  private async withBusy<T>(instance: Instance, action: () => Promise<T>): Promise<T> {
    this.busy.add(instance);
    try {
      return await action();
    } finally {
      this.busy.delete(instance);
    }
  }

  private async inject({ kind, midway }: Fault, inFlight: () => number): Promise<string> {
    switch (kind) {
      case 'kill usage':
      case 'kill identity':
      case 'kill rules':
      case 'kill gateway': {
        const name = kind.slice('kill '.length) as ServiceName;
        const live = () => this.system.instances[name].filter((i) => i.running && !this.busy.has(i) && !this.retired.has(i));
        // A victim still restarting from an earlier kill is not killable yet; wait for it.
        while (live().length === 0) await sleep(200);
        // The sender paces itself and idles between requests: a gateway killed in a pause drops nothing.
        // Wait (a while at most) for requests on the wire, so some are cut off unanswered and resent.
        for (const until = Date.now() + 10_000; name === 'gateway' && inFlight() === 0 && Date.now() < until; ) await sleep(2);
        // At midway, rules is killed while a reprocess job runs (walking the store, else waiting for
        // usage's verdicts), if one starts within a while: the retroactive path must resume without counting twice.
        if (midway) await this.untilJobRunning(30_000);
        const victims = live();
        const victim = victims[Math.floor(this.random() * victims.length)]!;
        this.busy.add(victim);
        victim.kill('SIGKILL');
        await victim.exited();
        const pause = this.random() * 2_000;
        // Restarted in the background: its group rejoin waits out the dead member's session
        // (~30 s), and the next faults should not wait for that.
        this.restarts.push(
          sleep(pause)
            .then(() => this.startUntilUp(victim))
            .then(() => this.log(`${name}#${victim.spec.index} back after kill -9`))
            .finally(() => this.busy.delete(victim)),
        );
        return `${name}#${victim.spec.index} killed with SIGKILL, restarting after ${pause.toFixed(0)} ms`;
      }
      case 'restart kafka':
      case 'restart postgres': {
        const component = kind === 'restart kafka' ? 'kafka' : 'postgres';
        await run(join(REPO, 'scripts/stack.sh'), ['stop', component], { cwd: REPO, timeout: 120_000 });
        await sleep(1_000 + this.random() * 4_000);
        // stack.sh starts Postgres with its lock (fd 9) still open, so the postmaster would hold
        // the lock for its lifetime and every later stack.sh start/stop would hang. Start the
        // cluster ourselves (no fd 9 here), then let stack.sh wait for it to be ready.
        if (component === 'postgres') await run('bash', ['-c', 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start'], { timeout: 120_000 });
        await run(join(REPO, 'scripts/stack.sh'), ['start', component], { cwd: REPO, timeout: 180_000 });
        return `${component} stopped and started`;
      }
      case 'flush redis':
        return `${await this.flushRedis()} keys with prefix ${this.system.id}: deleted`;
      case 'scale usage 1→3': {
        await Promise.all([this.system.startInstance('usage'), this.system.startInstance('usage')]);
        return `usage instances: ${this.system.instances.usage.filter((i) => i.running).length}`;
      }
      case 'scale usage 3→1': {
        const extras = this.system.instances.usage.slice(1).filter((i) => !this.retired.has(i));
        while (extras.some((i) => this.busy.has(i))) await sleep(200); // one is coming back from a kill -9
        // One leaves gracefully (SIGTERM: finishes its batch, commits), the other is kill -9ed.
        extras.forEach((instance) => this.retired.add(instance));
        await Promise.all(extras.map(async (instance, n) => (n === 0 ? instance.stop() : (instance.kill('SIGKILL'), instance.exited()))));
        return `stopped ${extras.length} (first SIGTERM, others SIGKILL)`;
      }
    }
  }

  /**
   * Until a reprocess job of this system is walking the unmapped store (or, none walking, one has
   * been waiting for usage's verdicts for a second), or `ms` passed.
   */
  private async untilJobRunning(ms: number): Promise<void> {
    const client = new Client({ connectionString: STACK.DATABASE_URL });
    await client.connect();
    try {
      let waitingSince: number | undefined;
      for (const until = Date.now() + ms; Date.now() < until; await sleep(10)) {
        const { rows } = await client.query<{ walking: boolean }>(
          `SELECT bool_or(NOT walk_done) AS walking FROM "${this.system.schema('rules')}".reprocess_jobs WHERE status = 'running'`,
        );
        const walking = rows[0]?.walking;
        if (walking) return;
        if (walking === null) waitingSince = undefined;
        else if (Date.now() - (waitingSince ??= Date.now()) > 1_000) return;
      }
    } finally {
      await client.end();
    }
  }

  /** Only this system's keys: other tests share the Redis server (never FLUSHALL). */
  private async flushRedis(): Promise<number> {
    const redis = new Redis(STACK.REDIS_URL, { maxRetriesPerRequest: 3 });
    let deleted = 0;
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.system.id}:*`, 'COUNT', 1000);
        if (keys.length > 0) deleted += await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    return deleted;
  }
}
