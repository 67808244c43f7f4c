import { basicAuth } from '../system/client';
import type { Event, Request, Workload } from './workload';

// Sends the workload the way Segment delivers: the same request again until
// it gets a 2xx or a 4xx (5xx, 429 and timeouts are retried with backoff,
// honouring Retry-After), and records which events were acknowledged. Only
// acknowledged events are owed by the system; an event whose request never
// got an answer is "unacknowledged" and may or may not be there.

export interface SendStats {
  /** Deliveries (duplicates included) that got a 2xx and were not in `rejected`. */
  acknowledgedDeliveries: number;
  rejectedDeliveries: number;
  /** Requests that kept failing until the give-up deadline. */
  gaveUp: number;
  attempts: number;
  retries: Record<string, number>;
  rejections: Record<string, number>;
}

export interface SenderOptions {
  gatewayUrl: () => string;
  apiKeys: string[];
  /** Events per second over all workers (0: as fast as the gateway takes them). */
  rate: number;
  concurrency: number;
  giveUpMs: number;
  /** Called once before the first request at or after `midwayIndex`; later requests wait for it. */
  midwayIndex: number;
  onMidway: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Sender {
  readonly acked: { account: number; event: Event }[] = [];
  /** (account|messageId) of events that were sent at least once but never acknowledged. */
  readonly unacknowledged = new Set<string>();
  readonly stats: SendStats = { acknowledgedDeliveries: 0, rejectedDeliveries: 0, gaveUp: 0, attempts: 0, retries: {}, rejections: {} };
  private sentEvents = 0;
  private posting = 0;
  private finishedDeliveries = 0;
  private midway: Promise<void> | undefined;

  constructor(private readonly workload: Workload, private readonly options: SenderOptions) {}

  /** True once a request past the midway index was picked up: the late rules are being created. */
  get midwayReached(): boolean {
    return this.midway !== undefined;
  }

  /** HTTP requests sent and not yet answered: a gateway killed now drops them mid-flight. */
  get inFlight(): number {
    return this.posting;
  }

  /** Share of the workload's deliveries answered so far (0..1), what the fault controller paces on. */
  get progress(): number {
    return this.finishedDeliveries / this.workload.deliveries;
  }

  async run(): Promise<void> {
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next++;
        const request = this.workload.requests[index];
        if (!request) return;
        if (index >= this.options.midwayIndex) await (this.midway ??= this.options.onMidway());
        if (this.options.rate > 0) {
          const due = started + (this.sentEvents / this.options.rate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        this.sentEvents += request.events.length;
        await this.deliver(request);
        this.finishedDeliveries += request.events.length;
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, worker));
    await (this.midway ??= this.options.onMidway());
  }

  private async deliver(request: Request): Promise<void> {
    const body = request.route === '/v1/batch' ? { batch: request.events } : request.events[0];
    const deadline = Date.now() + this.options.giveUpMs;
    for (let attempt = 0; ; attempt++) {
      this.stats.attempts += 1;
      this.posting += 1;
      const outcome = await this.post(request, body).finally(() => (this.posting -= 1));
      if (outcome.status >= 200 && outcome.status < 300) return this.acknowledge(request, outcome.body);
      if (outcome.status >= 400 && outcome.status < 500 && outcome.status !== 429) {
        this.stats.rejectedDeliveries += request.events.length;
        const reason = `${outcome.status} ${String((outcome.body as { message?: string })?.message ?? '').slice(0, 80)}`;
        this.stats.rejections[reason] = (this.stats.rejections[reason] ?? 0) + request.events.length;
        return;
      }
      const why = outcome.status === 0 ? outcome.error : String(outcome.status);
      this.stats.retries[why] = (this.stats.retries[why] ?? 0) + 1;
      if (Date.now() > deadline) {
        this.stats.gaveUp += 1;
        for (const event of request.events) this.unacknowledged.add(`${request.account}|${event.messageId}`);
        return;
      }
      const retryAfter = Number(outcome.retryAfter) * 1000;
      await sleep(Math.min(5_000, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 200 * 2 ** Math.min(attempt, 5)));
    }
  }

  private acknowledge(request: Request, body: unknown): void {
    const rejected = new Set<number>();
    if (request.route === '/v1/batch') {
      for (const entry of (body as { rejected?: { index: number; message: string }[] })?.rejected ?? []) {
        rejected.add(entry.index);
        const reason = `batch ${entry.message.slice(0, 80)}`;
        this.stats.rejections[reason] = (this.stats.rejections[reason] ?? 0) + 1;
      }
    }
    request.events.forEach((event, index) => {
      if (rejected.has(index)) {
        this.stats.rejectedDeliveries += 1;
        return;
      }
      this.stats.acknowledgedDeliveries += 1;
      this.acked.push({ account: request.account, event });
    });
  }

  private async post(request: Request, body: unknown): Promise<{ status: number; body?: unknown; retryAfter?: string | null; error: string }> {
    try {
      const response = await fetch(`${this.options.gatewayUrl()}${request.route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(this.options.apiKeys[request.account]!) },
        body: JSON.stringify(body),
        // Segment gives up on a request after about 10 s and retries it.
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text for the rejection reason
      }
      return { status: response.status, body: parsed, retryAfter: response.headers.get('retry-after'), error: '' };
    } catch (error) {
      const name = (error as Error).name === 'TimeoutError' ? 'timeout' : 'connection error';
      return { status: 0, error: name };
    }
  }
}
