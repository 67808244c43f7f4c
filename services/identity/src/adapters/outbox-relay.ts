import { identityChange, type EventCodec, type IdentityChange } from '@kana/schemas';
import { inTransaction, type CoalescingProducer, type Component, type Logger, type Pool } from '@kana/platform';
import { wrapPgError } from './pg-errors';
import { changeKey, type OutboxEntry } from './pg-user-writes';

/** Changes per produce request: ~200 bytes each, well under the broker's 1 MB default. */
const PRODUCE_CHUNK = 2_000;

export interface OutboxRelayConfig {
  /** How often the sweep looks for rows nobody produced. */
  intervalMs?: number;
  /** A row this old is swept; younger ones are being produced by the transaction that wrote them. */
  sweepAfterMs?: number;
}

/**
 * Produces outbox rows to kana.identity.changes and deletes them.
 *
 * The normal path is publish(): the writer of a row produces the changes it
 * already has in memory (no read back) right after its commit, then deletes
 * the row. Commit order and crashes:
 * - crash after commit, before the produce: the row stays. For an identify
 *   batch the consumer did not commit its offsets, so the same partition's
 *   replay takes the row over (insertOutbox takeOver) and produces it first,
 *   keeping the order of each key; the sweep covers rows nobody takes over.
 * - crash after the produce, before the delete: the changes are produced
 *   again. Delivery is at least once; a repeated change is a no-op for its
 *   consumers (usage upserts the alias of a `merged`).
 * The sweep locks rows with SKIP LOCKED, so instances share it.
 */
export class OutboxRelay implements Component {
  readonly name = 'outbox-relay';
  private timer: NodeJS.Timeout | undefined;
  private readonly config: Required<OutboxRelayConfig>;

  constructor(
    config: OutboxRelayConfig,
    private readonly deps: { pool: Pool; producer: CoalescingProducer; codec: EventCodec; logger: Logger },
  ) {
    this.config = { intervalMs: config.intervalMs ?? 5_000, sweepAfterMs: config.sweepAfterMs ?? 60_000 };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.sweep(), this.config.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Produces a committed row's changes (acks=all), then deletes the row. */
  async publish(entry: OutboxEntry | undefined): Promise<void> {
    if (!entry) return;
    await this.produce(entry.changes);
    await this.deps.pool.query('DELETE FROM outbox_batches WHERE seq = $1', [entry.seq]).catch((error) => Promise.reject(wrapPgError('delete outbox row', error)));
  }

  /** Produces every row older than `olderThanMs`, oldest first; resolves once Kafka acknowledged them. */
  async flush(olderThanMs = 0): Promise<number> {
    let total = 0;
    for (;;) {
      const sent = await this.flushOnce(olderThanMs);
      if (sent === 0) return total;
      total += sent;
    }
  }

  private async flushOnce(olderThanMs: number): Promise<number> {
    return inTransaction(this.deps.pool, async (client) => {
      const { rows } = await client
        .query<{ seq: string; changes: unknown[] }>(
          `SELECT seq, changes FROM outbox_batches WHERE created_at < now() - make_interval(secs => $1)
           ORDER BY seq LIMIT 10 FOR UPDATE SKIP LOCKED`,
          [olderThanMs / 1000],
        )
        .catch((error) => Promise.reject(wrapPgError('read outbox', error)));
      if (rows.length === 0) return 0;
      const changes = rows.flatMap((row) => row.changes.map((change) => identityChange.parse(change) as IdentityChange));
      await this.produce(changes);
      await client.query('DELETE FROM outbox_batches WHERE seq = ANY($1::bigint[])', [rows.map((row) => row.seq)]);
      return changes.length;
    });
  }

  /**
   * In chunks, one after the other: one produce request of a whole batch's
   * changes can exceed the broker's max message size (then it would be refused
   * on every retry), and sequential chunks keep the order of each key.
   */
  private async produce(changes: IdentityChange[]): Promise<void> {
    const { codec, producer } = this.deps;
    for (let i = 0; i < changes.length; i += PRODUCE_CHUNK) {
      const chunk = changes.slice(i, i + PRODUCE_CHUNK);
      const messages = await Promise.all(chunk.map(async (change) => ({ key: changeKey(change), value: await codec.encode('identityChanges', change) })));
      await producer.send(codec.topicName('identityChanges'), messages);
    }
  }

  private async sweep(): Promise<void> {
    try {
      await this.flush(this.config.sweepAfterMs);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'outbox sweep failed; will retry');
    }
  }
}
