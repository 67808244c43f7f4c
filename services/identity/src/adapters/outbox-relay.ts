import { identityChange, type EventCodec, type IdentityChange } from '@kana/schemas';
import { inTransaction, type CoalescingProducer, type Component, type Logger, type Pool } from '@kana/platform';
import { wrapPgError } from './pg-errors';

export interface OutboxRelayConfig {
  /** How often leftovers (a crash between commit and produce) are swept. */
  intervalMs?: number;
  batchSize?: number;
  /** processed_messages older than this are pruned; a Segment retry comes within hours, not days. */
  dedupRetentionDays?: number;
}

/**
 * Produces the rows of the outbox to kana.identity.changes and deletes them.
 *
 * Commit order: rows are locked (SKIP LOCKED, so instances share the work),
 * produced with acks=all, then deleted in the same transaction. A crash after
 * the produce but before the delete produces those changes again: delivery of
 * changes is at least once and their consumers must tolerate a repeat (a
 * repeated `merged` or `deleted` is a no-op for them). A crash before the
 * produce only delays the changes until the next sweep.
 */
export class OutboxRelay implements Component {
  readonly name = 'outbox-relay';
  private timer: NodeJS.Timeout | undefined;
  private sweeps = 0;
  private readonly config: Required<OutboxRelayConfig>;

  constructor(
    config: OutboxRelayConfig,
    private readonly deps: { pool: Pool; producer: CoalescingProducer; codec: EventCodec; logger: Logger },
  ) {
    this.config = { intervalMs: config.intervalMs ?? 5_000, batchSize: config.batchSize ?? 2_000, dedupRetentionDays: config.dedupRetentionDays ?? 7 };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.sweep(), this.config.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Produces everything pending; resolves once it is acknowledged by Kafka. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const sent = await this.flushOnce();
      total += sent;
      if (sent < this.config.batchSize) return total;
    }
  }

  private async flushOnce(): Promise<number> {
    return inTransaction(this.deps.pool, async (client) => {
      const { rows } = await client
        .query<{ seq: string; key: string; payload: unknown }>('SELECT seq, key, payload FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED', [this.config.batchSize])
        .catch((error) => Promise.reject(wrapPgError('read outbox', error)));
      if (rows.length === 0) return 0;
      const messages = await Promise.all(
        rows.map(async (row) => ({ key: row.key, value: await this.deps.codec.encode('identityChanges', identityChange.parse(row.payload) as IdentityChange) })),
      );
      await this.deps.producer.send(this.deps.codec.topicName('identityChanges'), messages);
      await client.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [rows.map((row) => row.seq)]);
      return rows.length;
    });
  }

  private async sweep(): Promise<void> {
    try {
      await this.flush();
      if (this.sweeps++ % 720 === 0) {
        await this.deps.pool.query(`DELETE FROM processed_messages WHERE processed_at < now() - make_interval(days => $1)`, [this.config.dedupRetentionDays]);
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'outbox sweep failed; will retry');
    }
  }
}
