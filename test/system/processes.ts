import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

// One service instance as a separate Node process, the way production runs it:
// its own environment, its stdout/stderr appended to a log file (kept after a
// restart, so a chaos run's log shows every life of the instance).

export const REPO = join(__dirname, '..', '..');
export type ServiceName = 'gateway' | 'identity' | 'usage' | 'rules';

export interface InstanceSpec {
  name: ServiceName;
  index: number;
  port: number;
  env: Record<string, string>;
  logFile: string;
}

/** A free TCP port: bound then released, so the instance keeps it across restarts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class Instance {
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(readonly spec: InstanceSpec) {}

  get name(): ServiceName {
    return this.spec.name;
  }
  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and resolves once /readyz answers 200; fails with the log's tail otherwise. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.label} is already running`);
    const fd = openSync(this.spec.logFile, 'a');
    try {
      const child = spawn(process.execPath, [join(REPO, 'services', this.name, 'dist', 'main.js')], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.spec.env, PORT: String(this.spec.port) },
        stdio: ['ignore', fd, fd],
      });
      this.child = child;
      this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    } finally {
      closeSync(fd); // the child holds its own descriptor
    }
    await this.waitReady(timeoutMs);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const exited = this.exit!.then((result) => ({ exited: result }));
    for (;;) {
      const probe = fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2_000) })
        .then((response) => ({ ready: response.status === 200 }))
        .catch(() => ({ ready: false }));
      const outcome = await Promise.race([probe, exited]);
      if ('exited' in outcome) {
        throw new Error(`${this.label} exited (code ${outcome.exited.code}, signal ${outcome.exited.signal}) before it was ready; log ${this.spec.logFile}:\n${tail(this.spec.logFile)}`);
      }
      if (outcome.ready) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.label} was not ready within ${timeoutMs} ms; log ${this.spec.logFile}:\n${tail(this.spec.logFile)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Sends a signal without waiting (kill -9 is 'SIGKILL'). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child!.kill(signal);
  }

  /** Resolves when the process has exited. */
  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    return this.exit;
  }

  /** Graceful stop (SIGTERM), then SIGKILL if it does not exit in time. */
  async stop(graceMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private get label(): string {
    return `${this.name}#${this.spec.index} (port ${this.spec.port})`;
  }
}
