import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { deleteTopicsWithPrefix, dropSchema, STACK, uniqueId } from '@kana/platform/testing';
import { admin, segment } from './client';
import { freePort, Instance, REPO, type ServiceName } from './processes';

export { Instance, type ServiceName } from './processes';
export * from './client';

// The whole system as separate Node processes on the real stack, isolated by
// one id: its topics (TOPIC_PREFIX), Postgres schemas (<service>_<id>) and Redis
// keys (one prefix shared by all services: usage reads the rule snapshots rules
// writes). Tests talk to it over HTTP; the chaos suite kills and restarts
// instances through the same object.

const run = promisify(execFile);
const SERVICES: ServiceName[] = ['gateway', 'identity', 'usage', 'rules'];

let built = false;
/** `tsc -b` is incremental: about a second when nothing changed. Done once per jest worker. */
export function buildOnce(): void {
  if (built) return;
  try {
    execFileSync(join(REPO, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: REPO, stdio: 'pipe', timeout: 300_000 });
  } catch (error) {
    const output = String((error as { stdout?: Buffer }).stdout ?? '') + String((error as { stderr?: Buffer }).stderr ?? '');
    const missing = SERVICES.filter((name) => !existsSync(join(REPO, 'services', name, 'dist', 'main.js')));
    // Another engineer's work in progress may not typecheck; the emitted JS of the last good build still runs.
    if (missing.length > 0) throw new Error(`pnpm exec tsc -b failed and ${missing.join(', ')} have no dist/main.js:\n${output}`);
    process.stderr.write(`warning: pnpm exec tsc -b reported errors; running the last emitted dist/:\n${output.slice(0, 2000)}\n`);
  }
  built = true;
}

export interface SystemOptions {
  /** Extra environment per service (e.g. { gateway: { KEY_CACHE_TTL_MS: '500' } }). */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  logLevel?: string;
}

export class SystemUnderTest {
  readonly id = uniqueId('sys');
  readonly logDir = join(REPO, '.stack', 'logs', `system-${this.id}`);
  readonly instances: Record<ServiceName, Instance[]> = { gateway: [], identity: [], usage: [], rules: [] };
  private readonly ports: Partial<Record<ServiceName, number>> = {};

  constructor(private readonly options: SystemOptions = {}) {}

  /** Builds (incrementally), then starts rules, identity and usage, and the gateway; ready when each /readyz is. */
  static async start(options: SystemOptions = {}): Promise<SystemUnderTest> {
    buildOnce();
    const system = new SystemUnderTest(options);
    mkdirSync(system.logDir, { recursive: true });
    for (const name of SERVICES) system.ports[name] = await freePort();
    try {
      // Rules alone first: it registers every schema subject of the fresh prefix. Two services
      // registering the same new subject at once can crash one of them (the registry client reads
      // the subject's compatibility between the other's register and its config update:
      // "BACKWARD != NONE"); production runs a setup step before the services for the same reason.
      await system.startInstance('rules');
      await Promise.all([system.startInstance('identity'), system.startInstance('usage')]);
      await system.startInstance('gateway');
    } catch (error) {
      await system.stop();
      await system.cleanup();
      throw error;
    }
    return system;
  }

  get gatewayUrl(): string {
    return this.instance('gateway').url;
  }

  /** Segment's side: ingest calls with the key as Basic auth. */
  segment(apiKey: string, headers: Record<string, string> = {}) {
    return segment(this.gatewayUrl, apiKey, headers);
  }

  /** The dashboard's side: admin calls with the key as Bearer token. */
  admin(apiKey: string, headers: Record<string, string> = {}) {
    return admin(this.gatewayUrl, apiKey, headers);
  }

  /** The environment every process of this system gets, before per-service overrides. */
  envFor(name: ServiceName): Record<string, string> {
    const url = (service: ServiceName) => `http://127.0.0.1:${this.ports[service]}`;
    const own: Record<ServiceName, Record<string, string>> = {
      gateway: { IDENTITY_URL: url('identity'), USAGE_URL: url('usage'), RULES_URL: url('rules') },
      identity: {},
      usage: { RULES_URL: url('rules') },
      rules: {},
    };
    return {
      KAFKA_BROKERS: STACK.KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL: STACK.SCHEMA_REGISTRY_URL,
      DATABASE_URL: STACK.DATABASE_URL,
      REDIS_URL: STACK.REDIS_URL,
      DATABASE_SCHEMA: this.schema(name),
      REDIS_KEY_PREFIX: `${this.id}:`,
      TOPIC_PREFIX: `${this.id}.`,
      KAFKA_PARTITIONS: '3',
      LOG_LEVEL: this.options.logLevel ?? process.env.KANA_E2E_LOG_LEVEL ?? 'info',
      ...own[name],
      ...this.options.env?.[name],
    };
  }

  schema(name: ServiceName): string {
    return `${name}_${this.id}`;
  }

  /**
   * Starts one more instance of a service. The first instance of each service
   * gets the port the others' URLs point at; further ones (another usage in
   * the consumer group) get their own.
   */
  async startInstance(name: ServiceName, env: Record<string, string> = {}): Promise<Instance> {
    const index = this.instances[name].length;
    const port = index === 0 ? this.ports[name]! : await freePort();
    const instance = new Instance({ name, index, port, env: { ...this.envFor(name), ...env }, logFile: join(this.logDir, `${name}-${index}.log`) });
    this.instances[name].push(instance);
    await instance.start();
    return instance;
  }

  instance(name: ServiceName, index = 0): Instance {
    const instance = this.instances[name][index];
    if (!instance) throw new Error(`no instance ${name}#${index}`);
    return instance;
  }

  /** kill -9 by default; does not wait for the exit. */
  kill(name: ServiceName, signal: NodeJS.Signals = 'SIGKILL', index = 0): void {
    this.instance(name, index).kill(signal);
  }

  /** Stops (gracefully, if still running) and starts again on the same port; resolves once ready. */
  async restart(name: ServiceName, index = 0): Promise<void> {
    const instance = this.instance(name, index);
    if (instance.running) await instance.stop();
    await instance.start();
  }

  /** SIGTERM to every instance, the gateway first (stop taking requests), then wait for all exits. */
  async stop(): Promise<void> {
    await Promise.all(this.instances.gateway.map((instance) => instance.stop()));
    await Promise.all(['identity', 'usage', 'rules'].flatMap((name) => this.instances[name as ServiceName].map((instance) => instance.stop())));
  }

  /** `kana …` as a user runs it, against this system's gateway schema; returns the parsed --json output. */
  async cli(...args: string[]): Promise<Record<string, string>> {
    const { stdout } = await run(process.execPath, [join(REPO, 'services/gateway/dist/cli.js'), ...args, '--json'], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: STACK.DATABASE_URL, DATABASE_SCHEMA: this.schema('gateway') },
    });
    return JSON.parse(stdout) as Record<string, string>;
  }

  async createAccount(name = uniqueId('acct')): Promise<{ accountId: string; apiKey: string }> {
    const { accountId, apiKey } = await this.cli('accounts', 'create', '--name', name);
    if (!accountId || !apiKey) throw new Error(`kana accounts create printed no accountId/apiKey`);
    return { accountId, apiKey };
  }

  /** The log files of every instance (for the no-secrets check). */
  logFiles(): string[] {
    return existsSync(this.logDir) ? readdirSync(this.logDir).map((file) => join(this.logDir, file)) : [];
  }

  /** Drops the schemas, deletes the topics and Redis keys of this system. Logs stay for reading. */
  async cleanup(): Promise<void> {
    await Promise.all(SERVICES.map((name) => dropSchema(this.schema(name))));
    await deleteTopicsWithPrefix(`${this.id}.`, [STACK.KAFKA_BROKERS]);
    const redis = new Redis(STACK.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.id}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}
