import type { Component, Logger, Pool } from '@kana/platform';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps monthly partitions of the traffic tables a few months ahead, at start
 * and once a day after, so a process running for months never falls back to
 * the default partition (inserts would still succeed there; old months could
 * then no longer be detached on their own). Several instances doing this at
 * once is harmless: ensure_month_partitions skips partitions that exist.
 */
export class PgPartitionMaintenance implements Component {
  readonly name = 'partitions';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: { monthsAhead: number },
    private readonly deps: { pool: Pool; logger: Logger },
  ) {}

  async start(): Promise<void> {
    await this.ensure();
    this.timer = setInterval(() => {
      this.ensure().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not create upcoming partitions; retrying tomorrow'));
    }, DAY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async ensure(): Promise<void> {
    const months = this.config.monthsAhead + 2;
    await this.deps.pool.query(
      `SELECT ensure_month_partitions('events', now() - interval '1 month', $1), ensure_month_partitions('usage_records', now() - interval '1 month', $1)`,
      [months],
    );
  }
}
