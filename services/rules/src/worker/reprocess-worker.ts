import { isRetriable, type CoalescingProducer, type Component, type Logger, type Pool, type PoolClient } from '@kana/platform';
import { userKey, type EventCodec, type ReprocessMessage } from '@kana/schemas';
import * as jobs from '../adapters/pg-jobs';
import { isTransientDbError } from '../adapters/pg-errors';
import { pageSelected, type StoredEvent } from '../adapters/pg-unmapped-store';
import type { SnapshotPublisher } from '../snapshots';

export interface ReprocessWorkerConfig {
  pageSize: number;
  pollMs: number;
  /** Jobs walked at the same time by this instance. */
  concurrency: number;
}

const LOCK_CLASS = 7_315_001;

/**
 * Walks running jobs: page of stored events → record them as the job's items
 * → republish to the reprocess topic (acks=all) → move the cursor. A crash
 * anywhere before the cursor update sends that page once more on resume
 * (usage is idempotent; items and verdicts count each event once).
 *
 * One walker per job across instances: a session advisory lock on a
 * dedicated connection, held while walking. If the process dies the
 * connection closes and the lock goes with it, so another instance (or this
 * one after a restart) resumes from the cursor.
 */
export class ReprocessWorker implements Component {
  readonly name = 'reprocess-worker';
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();
  private readonly log: Logger;

  constructor(
    private readonly config: ReprocessWorkerConfig,
    private readonly deps: { pool: Pool; producer: CoalescingProducer; codec: EventCodec; snapshots: SnapshotPublisher; logger: Logger },
  ) {
    this.log = deps.logger.child({ component: this.name });
  }

  async start(): Promise<void> {
    this.running = true;
    this.loops = Array.from({ length: this.config.concurrency }, () => this.loop());
  }

  /** Finishes the page in flight (its cursor is saved), then returns. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    await Promise.all(this.loops);
  }

  /** A change started a job: look now instead of at the next poll. */
  nudge(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOne();
      } catch (error) {
        this.log.error({ err: error }, 'reprocess walk failed; retrying after the poll interval');
      }
      if (!worked && this.running) await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.config.pollMs);
      this.sleepers.add(wake);
    });
  }

  /** Claims one walking job nobody else holds and walks it; false when there was none. */
  private async runOne(): Promise<boolean> {
    const candidates = await jobs.walkingJobIds(this.deps.pool, 20);
    if (candidates.length === 0) return false;
    const client = await this.deps.pool.connect();
    let broken = false;
    // The connection can die while held (Postgres restart): the client then
    // emits 'error', which would crash the process without a listener.
    const onError = (error: Error) => {
      broken = true;
      this.log.warn({ err: error }, 'walker connection lost; the job resumes from its cursor');
    };
    client.on('error', onError);
    try {
      for (const id of candidates) {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [LOCK_CLASS, id]);
        if (!rows[0]!.locked) continue;
        try {
          await this.walk(client, id);
          return true;
        } catch (error) {
          // Kafka, Redis or Postgres away: the job stays running and resumes
          // from its cursor. Anything else would fail the same way forever
          // (a bug, a row that cannot be encoded): the job says so instead.
          if (!isRetriable(error) && !isTransientDbError(error)) {
            await jobs.failJob(this.deps.pool, id);
            this.log.error({ err: error, jobId: id }, 'reprocess job failed');
          }
          throw error;
        } finally {
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, id]).catch((error: unknown) => {
            broken = true;
            this.log.warn({ err: error }, 'advisory unlock failed; dropping the connection releases it');
          });
        }
      }
      return false;
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  private async walk(client: PoolClient, id: string): Promise<void> {
    // Read after taking the lock: another instance may have moved the cursor.
    let job = await jobs.getJobById(client, id);
    if (!job || job.status !== 'running' || job.walkDone) return;
    const log = this.log.child({ jobId: id, accountId: job.accountId, rulesVersion: job.rulesVersion });
    // Redis may still hold an older snapshot (the post-commit write failed);
    // usage would then have to ask for it for every reprocessed event.
    await this.deps.snapshots.publish(job.accountId);
    log.info({ total: job.total, resumeAt: job.cursor ?? null }, 'reprocess walk started');

    // Pipelined: while Kafka acknowledges page N, page N+1 is read and
    // recorded as items. Pages are still sent and the cursor advanced one at a
    // time, in order, so the cursor never passes an unacknowledged page.
    let next = pageSelected(client, job.accountId, job.rulesVersion, job.selection, this.config.pageSize, job.cursor);
    let sending: Promise<void> = Promise.resolve();
    try {
      while (this.running) {
        const page = await next;
        if (page.length === 0) {
          await sending;
          await jobs.finishWalk(client, id);
          log.info('reprocess walk finished');
          return;
        }
        const last = page[page.length - 1]!;
        next = pageSelected(this.deps.pool, job.accountId, job.rulesVersion, job.selection, this.config.pageSize, last);
        next.catch(() => undefined);
        await jobs.addItems(this.deps.pool, id, page.map((stored) => stored.messageId));
        await sending;
        // A newer change supersedes this job: stop sending what it will resend.
        job = (await jobs.getJobById(client, id)) ?? job;
        if (job.status !== 'running') {
          log.info({ status: job.status }, 'reprocess walk stopped');
          return;
        }
        const current = job;
        const started = performance.now();
        sending = this.publish(current, page).then(async () => {
          await jobs.advanceCursor(this.deps.pool, id, last);
          log.debug({ events: page.length, sendMs: Math.round(performance.now() - started) }, 'page sent');
        });
        sending.catch(() => undefined);
      }
      await sending;
    } finally {
      // Never leave a send running past the lock: the next walker starts from the saved cursor.
      await sending.catch(() => undefined);
    }
  }

  private async publish(job: jobs.Job, page: StoredEvent[]): Promise<void> {
    const messages = await Promise.all(
      page.map(async (stored) => {
        const value: ReprocessMessage = {
          schemaVersion: 1,
          accountId: job.accountId,
          requestId: stored.requestId,
          receivedAt: stored.receivedAt,
          event: stored.event,
          jobId: job.id,
          minRulesVersion: job.rulesVersion,
        };
        return { key: userKey(job.accountId, stored.userId), value: await this.deps.codec.encode('reprocess', value) };
      }),
    );
    await this.deps.producer.send(this.deps.codec.topicName('reprocess'), messages);
  }
}
