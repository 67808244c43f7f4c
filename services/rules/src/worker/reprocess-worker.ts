import { isRetriable, type CoalescingProducer, type Component, type Logger, type Pool, type PoolClient } from '@kana/platform';
import { userKey, type EventCodec } from '@kana/schemas';
import * as jobs from '../adapters/pg-jobs';
import { isTransientDbError } from '../adapters/pg-errors';
import { rereadPage, takePage, takeRecordedPage, type PageEvent, type Position } from '../adapters/pg-unmapped-store';
import type { SnapshotPublisher } from '../snapshots';

export interface ReprocessWorkerConfig {
  pageSize: number;
  pollMs: number;
  /** Jobs walked at the same time by this instance. */
  concurrency: number;
  /** Pages of one job sent and not yet acknowledged at once (bounded: each holds a page in memory). */
  pagesInFlight: number;
  /** A walked job that heard no verdict from usage for this long ends done with the counts it has. */
  settleMs: number;
}

const LOCK_CLASS = 7_315_001;

/**
 * Walks running jobs: page of stored events, recorded in the same statement
 * (one reprocess_pages row: the page's message ids; jobs from before
 * migration 005: one reprocess_items row per event) → republish to the
 * reprocess topic (acks=all), each event with its address in the job's pages
 * as the jobId (usage echoes it in its verdict) → move the cursor. Up to `pagesInFlight` pages are being sent at once while the next
 * ones are read; the cursor only ever moves to the end of the longest run of
 * acknowledged pages from the start, so it never passes an unacknowledged
 * one. A crash sends the pages recorded after the cursor once more on resume
 * (at most `pagesInFlight` pages; by their recorded message ids, with the
 * same addresses; usage is idempotent and a page's verdict characters count
 * each event once).
 *
 * Every instance also sweeps walked jobs (settleJobs): a job is done when all
 * its verdicts are in, or when none arrived for `settleMs`.
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
    this.loops = [...Array.from({ length: this.config.concurrency }, () => this.loop()), this.sweepLoop()];
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

  private async sweepLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.sweep();
      } catch (error) {
        this.log.warn({ err: error }, 'reprocess sweep failed; retrying after the poll interval');
      }
      if (this.running) await this.idle();
    }
  }

  /**
   * Finishes walked jobs that are complete or settled; folds finished jobs' verdict deltas into their
   * row; writes the rules snapshots a failed Redis write left behind.
   */
  async sweep(): Promise<void> {
    for (const job of await jobs.settleJobs(this.deps.pool, this.config.settleMs)) {
      this.log.warn(
        { jobId: job.id, accountId: job.accountId, published: job.published, processed: job.processed, settleMs: this.config.settleMs },
        'reprocess job done without a verdict for every event: usage dead-lettered or collapsed the rest',
      );
    }
    await jobs.foldProgress(this.deps.pool, 20);
    await this.deps.snapshots.republishPending(20);
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
    const job = await jobs.getJobById(client, id);
    if (!job || job.status !== 'running' || job.walkDone) return;
    const log = this.log.child({ jobId: id, accountId: job.accountId, rulesVersion: job.rulesVersion });
    // Redis may still hold an older snapshot (the post-commit write failed);
    // usage would then have to ask for it for every reprocessed event. Redis
    // being down does not stop the walk: usage asks the rules service then.
    await this.deps.snapshots.publish(job.accountId);
    log.info({ total: job.total, resumeAt: job.cursor ?? null }, 'reprocess walk started');

    const window = new SendWindow(this.config.pagesInFlight, (position, added) => jobs.advanceCursor(this.deps.pool, id, position, added));
    try {
      if (job.paged) await this.walkPages(client, job, window, log);
      else await this.walkItems(client, job, window, log);
    } finally {
      // Never leave a send running past the lock: the next walker starts from the saved cursor.
      await window.settled();
    }
  }

  /**
   * A paged job: first the pages recorded after the cursor (a crash left them
   * unacknowledged) go out again by their message ids, with the same
   * addresses, so their verdicts count once; then the walk reads on after the
   * last recorded page, recording each page before sending it.
   */
  private async walkPages(client: PoolClient, job: jobs.Job, window: SendWindow, log: Logger): Promise<void> {
    const id = job.id;
    const recorded = await jobs.recordedPages(client, id, job.cursor);
    for (const page of recorded.unacknowledged) {
      if (!this.running) return window.drain();
      await window.room();
      if (await superseded(client, id, log)) return;
      const events = await rereadPage(client, job.accountId, page.messageIds);
      log.info({ pageNo: page.pageNo, events: events.length, of: page.messageIds.length }, 'recorded page sent again');
      const sending = this.publish(
        job,
        events.map(({ index, event }) => ({ jobId: jobs.addressOf(id, page.pageNo, index), event })),
      );
      window.add(page.last, 0, sending);
    }
    let after = recorded.last ?? job.cursor;
    let pageNo = recorded.lastPageNo;
    while (this.running) {
      await window.room();
      if (await superseded(client, id, log)) return;
      const { events, last } = await takeRecordedPage(client, id, pageNo + 1, job.accountId, job.rulesVersion, job.selection, this.config.pageSize, after);
      if (!last) {
        await window.drain();
        await jobs.finishWalk(client, id);
        log.info('reprocess walk finished');
        return;
      }
      pageNo++;
      after = last;
      const started = performance.now();
      const sent = pageNo;
      // Encoded here, outside any closure: while Kafka acknowledges, only the encoded page is alive, not its
      // rows (a string per event, which a closure kept alive and the GC promoted out of the young generation).
      const count = events.length;
      const sending = this.publish(job, events.map((event, index) => ({ jobId: jobs.addressOf(id, sent, index), event })));
      window.add(last, count, sending.then(() => log.debug({ events: count, sendMs: Math.round(performance.now() - started) }, 'page sent')));
    }
    await window.drain();
  }

  /** A job created before pages were recorded: each page's events become its reprocess_items before the send. */
  private async walkItems(client: PoolClient, job: jobs.Job, window: SendWindow, log: Logger): Promise<void> {
    const id = job.id;
    let after = job.cursor;
    while (this.running) {
      await window.room();
      if (await superseded(client, id, log)) return;
      const { events, added } = await takePage(client, id, job.accountId, job.rulesVersion, job.selection, this.config.pageSize, after);
      if (events.length === 0) {
        await window.drain();
        await jobs.finishWalk(client, id);
        log.info('reprocess walk finished');
        return;
      }
      const last = events[events.length - 1]!;
      after = { eventTime: last.eventTime, messageId: last.messageId };
      const started = performance.now();
      const page = events.map((stored) => ({
        jobId: id,
        event: { messageId: stored.messageId, userId: stored.userId, requestId: stored.requestId, receivedAt: stored.receivedAt, eventJson: JSON.stringify(stored.event) },
      }));
      const count = events.length;
      const sending = this.publish(job, page);
      window.add(after, added, sending.then(() => log.debug({ events: count, sendMs: Math.round(performance.now() - started) }, 'page sent')));
    }
    await window.drain();
  }

  /**
   * The bytes encodeParsed would write for each ReprocessMessage (magic byte,
   * schema id, JSON in the schema's field order), with the stored event's JSON
   * text spliced in: no JSON.parse of the row and no
   * JSON.stringify of the event, and no second JSON Schema validation. Every
   * part is output of the zod schemas the registered schema is derived from:
   * the event, request id and receivedAt as decoded (zod-validated) when usage
   * reported the event unmapped, stored unchanged in meaning; the job fills in
   * the rest.
   */
  private publish(job: jobs.Job, page: { jobId: string; event: PageEvent }[]): Promise<void> {
    // Not async: the promise returned is the producer's, which holds the encoded messages, not `page`.
    if (page.length === 0) return Promise.resolve();
    const { codec } = this.deps;
    const account = JSON.stringify(job.accountId);
    const version = String(job.rulesVersion);
    // Each a ReprocessMessage in its schema's field order; the page's values are slices of one buffer.
    const values = codec.encodeJsonMany(
      'reprocess',
      page.map(
        ({ jobId, event }) =>
          `{"schemaVersion":1,"accountId":${account},"requestId":${JSON.stringify(event.requestId)},"receivedAt":${JSON.stringify(event.receivedAt)},"event":${event.eventJson},"jobId":${JSON.stringify(jobId)},"minRulesVersion":${version}}`,
      ),
    );
    return this.deps.producer.send(
      codec.topicName('reprocess'),
      page.map(({ event }, i) => ({ key: userKey(job.accountId, event.userId), value: values[i]! })),
    );
  }
}

/** A newer change superseded the job (it is no longer walking): the walk stops sending what that job will resend. */
async function superseded(client: PoolClient, id: string, log: Logger): Promise<boolean> {
  if (await jobs.isWalking(client, id)) return false;
  log.info('reprocess walk stopped: the job is no longer walking');
  return true;
}

/**
 * The pages of one walk being sent: at most `limit` between "read" and
 * "cursor saved past it", acknowledged by Kafka in any order. The cursor is
 * saved (one write at a time, in order) at the end of the longest
 * acknowledged run from the start, so a crash re-sends at most `limit`
 * pages. The first failure (a send or a cursor write) stops the walk: room()
 * and drain() throw it, and whoever resumes sends the pages after the saved
 * cursor again.
 */
export class SendWindow {
  private readonly pages: { position: Position; added: number; acked: boolean; saving: boolean; sending: Promise<void> }[] = [];
  private saving: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly limit: number,
    private readonly saveCursor: (position: Position, added: number) => Promise<void>,
  ) {}

  /** Resolves when another page may be sent; throws the first failure. */
  async room(): Promise<void> {
    while (!this.failure && this.pages.length >= this.limit) await this.changed();
    if (this.failure) throw this.failure.error;
  }

  /** A page whose send has started: `sending` settles when Kafka acknowledged it (or failed). */
  add(position: Position, added: number, sending: Promise<void>): void {
    const page = { position, added, acked: false, saving: false, sending: Promise.resolve() };
    this.pages.push(page);
    page.sending = sending.then(
      () => {
        page.acked = true;
        this.advance();
      },
      (error: unknown) => this.fail(error),
    );
  }

  /** Every page acknowledged and the cursor saved past it; throws the first failure. */
  async drain(): Promise<void> {
    while (!this.failure && this.pages.length > 0) await this.changed();
    if (this.failure) throw this.failure.error;
  }

  /** Nothing of this walk still running (failures ignored: the caller already has one or is stopping). */
  async settled(): Promise<void> {
    await Promise.all(this.pages.map((page) => page.sending));
    await this.saving;
  }

  private advance(): void {
    const run = [];
    for (const page of this.pages) {
      if (!page.acked) break;
      if (!page.saving) run.push(page);
    }
    if (run.length === 0) return;
    run.forEach((page) => (page.saving = true));
    const last = run[run.length - 1]!;
    const added = run.reduce((sum, page) => sum + page.added, 0);
    this.saving = this.saving
      .then(async () => {
        if (this.failure) return;
        await this.saveCursor(last.position, added);
        this.pages.splice(0, this.pages.indexOf(last) + 1);
        this.notify();
      })
      .catch((error: unknown) => this.fail(error));
  }

  private changed(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
