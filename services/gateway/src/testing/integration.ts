import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '@kana/platform';
import { deleteTopicsWithPrefix, dropSchema, testEnv } from '@kana/platform/testing';
import { build, type GatewayApp } from '../app';
import { readConfig } from '../config';

export const REPO = join(__dirname, '..', '..', '..', '..');
const run = promisify(execFile);

/** A gateway on the real stack with its own schema and topics, on an ephemeral port. */
export async function startGateway(overrides: Record<string, string> = {}) {
  const env: Record<string, string> = { ...testEnv('gateway'), PORT: '0', ...overrides };
  const config = readConfig(env);
  const gateway: GatewayApp = build(config, { logger: createLogger({ name: 'gateway-test', level: env.LOG_LEVEL }) });
  try {
    await gateway.lifecycle.start();
  } catch (error) {
    await gateway.lifecycle.stop();
    throw error;
  }
  const url = `http://127.0.0.1:${(gateway.http.server.address() as AddressInfo).port}`;
  return {
    env,
    gateway,
    url,
    post: (path: string, body: unknown, authorization?: string) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    async stop() {
      await gateway.lifecycle.stop();
      await dropSchema(env.DATABASE_SCHEMA!);
      await deleteTopicsWithPrefix(env.TOPIC_PREFIX!);
    },
  };
}

/** The `kana` command line as a user runs it (compiled), against the test's schema. */
export async function kana(env: Record<string, string>, ...args: string[]): Promise<Record<string, string>> {
  const { stdout } = await run('node', [join(REPO, 'services/gateway/dist/cli.js'), ...args, '--json'], {
    env: { ...process.env, DATABASE_URL: env.DATABASE_URL, DATABASE_SCHEMA: env.DATABASE_SCHEMA },
  });
  return JSON.parse(stdout);
}

export async function stack(...args: string[]): Promise<void> {
  await run('bash', [join(REPO, 'scripts/stack.sh'), ...args], { timeout: 180_000 });
}

export async function buildCli(): Promise<void> {
  await run('pnpm', ['exec', 'tsc', '-b', 'services/gateway'], { cwd: REPO, timeout: 120_000 });
}
