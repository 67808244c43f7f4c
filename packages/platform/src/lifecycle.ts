import type { Logger } from 'pino';

export interface Component {
  readonly name: string;
  start?(): Promise<void>;
  /** Idempotent; drains in-flight work before closing. */
  stop(): Promise<void>;
}

/**
 * Starts components in the order added and stops them in reverse, so a
 * consumer stops (finishing its batch and committing) before the producer and
 * the pools it writes through are closed.
 */
export class Lifecycle {
  private readonly components: Component[] = [];
  private started: Component[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add<T extends Component>(component: T): T {
    this.components.push(component);
    return component;
  }

  async start(): Promise<void> {
    for (const component of this.components) {
      await component.start?.();
      this.started.push(component);
      this.logger.debug({ component: component.name }, 'started');
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const order = [...this.started].reverse();
    this.started = [];
    for (const component of order) {
      try {
        await component.stop();
      } catch (error) {
        this.logger.error({ err: error, component: component.name }, 'stop failed');
      }
    }
  }
}

/**
 * Several components that start and stop side by side, as one step of a Lifecycle: e.g. a
 * service's consumers, each of which spends seconds leaving its group on stop. Every member
 * is stopped even when another one fails; the first failure is rethrown.
 */
export function concurrently(name: string, components: Component[]): Component {
  return {
    name,
    start: async () => void (await Promise.all(components.map((component) => component.start?.()))),
    stop: async () => {
      const results = await Promise.allSettled(components.map((component) => component.stop()));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/**
 * Runs a service: build it, start it, stop it on SIGTERM/SIGINT. A start
 * failure or an unhandled rejection exits non-zero rather than limping on.
 */
export async function runMain(logger: Logger, build: () => Promise<Lifecycle>): Promise<void> {
  let lifecycle: Lifecycle | undefined;
  const shutdown = async (signal: string, code: number): Promise<never> => {
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error('graceful stop took longer than 30s; exiting');
      process.exit(1);
    }, 30_000);
    timer.unref();
    await lifecycle?.stop();
    logger.info('stopped');
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });
  try {
    lifecycle = await build();
    await lifecycle.start();
    logger.info('started');
  } catch (error) {
    logger.fatal({ err: error }, 'start failed');
    await lifecycle?.stop();
    process.exit(1);
  }
}
