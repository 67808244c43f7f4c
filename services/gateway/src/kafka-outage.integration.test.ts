import { execFileSync } from 'node:child_process';
import { readTopic, STACK, waitFor } from '@kana/platform/testing';
import { aTrackEvent, anIdentifyEvent } from './domain/builders';
import { stack, startGateway } from './testing/integration';

// Stops the shared Kafka broker: keep it to this one file, keep the outage
// short, and always start Kafka again in `finally`.

let gw: Awaited<ReturnType<typeof startGateway>>;
let auth: string;

beforeAll(async () => {
  gw = await startGateway({ PRODUCE_ACK_TIMEOUT_MS: '3000' });
  const { apiKey } = await gw.gateway.accounts.createAccount('Outage Inc');
  auth = `Bearer ${apiKey}`;
}, 180_000);
afterAll(() => gw?.stop(), 60_000);

describe('while Kafka is down', () => {
  it('answers 503 + Retry-After, acknowledges nothing it did not store, and takes the same requests after Kafka returns', async () => {
    const requests = [
      ...Array.from({ length: 6 }, (_, i) => ({ path: '/v1/track', body: aTrackEvent({ messageId: `outage-track-${i}`, userId: `u-${i}` }) })),
      { path: '/v1/identify', body: anIdentifyEvent({ messageId: 'outage-identify-0' }) },
      { path: '/v1/batch', body: { batch: [aTrackEvent({ messageId: 'outage-batch-0' }), aTrackEvent({ messageId: 'outage-batch-1' })] } },
    ];
    expect((await gw.post('/v1/track', aTrackEvent({ messageId: 'outage-before' }), auth)).status).toBe(200);

    const acknowledged = new Set<string>();
    const messageIdsOf = (body: unknown): string[] =>
      'batch' in (body as object) ? (body as { batch: { messageId: string }[] }).batch.map((e) => e.messageId) : [(body as { messageId: string }).messageId];

    await stack('stop', 'kafka');
    try {
      const answers = await Promise.all(requests.map((request) => gw.post(request.path, request.body, auth)));
      for (const [index, answer] of answers.entries()) {
        if (answer.status === 200) messageIdsOf(requests[index]!.body).forEach((id) => acknowledged.add(id));
        expect([answer.status, await answer.json()]).toEqual([503, { message: 'the events could not be stored (Kafka unavailable); retry later' }]);
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      await stack('start', 'kafka');
    }

    // Segment retries the same requests; once the producer has reconnected they are stored.
    for (const request of requests) {
      await waitFor(async () => (await gw.post(request.path, request.body, auth)).status === 200, { timeoutMs: 90_000, intervalMs: 500, what: `${request.path} to succeed again` });
      messageIdsOf(request.body).forEach((id) => acknowledged.add(id));
    }
    const trackIds = [...acknowledged].filter((id) => !id.startsWith('outage-identify'));
    const tracks = await readTopic(gw.gateway.codec, 'track', (messages) => trackIds.every((id) => messages.some((m) => m.value.event.messageId === id)));
    expect(trackIds.filter((id) => !tracks.some((m) => m.value.event.messageId === id))).toEqual([]);
    await readTopic(gw.gateway.codec, 'identify', (messages) => messages.some((m) => m.value.event.messageId === 'outage-identify-0'));
  }, 300_000);
});

/** The pid listening on the broker's port (ours: the stack runs as this user). */
function brokerPid(): number {
  const port = new URL(`kafka://${STACK.KAFKA_BROKERS}`).port;
  const listening = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const pid = Number(/pid=(\d+)/.exec(listening)?.[1]);
  if (!pid) throw new Error(`no process listens on the broker's port ${port}: ${listening}`);
  return pid;
}

describe('while Kafka accepts requests but does not answer them', () => {
  it('answers 503 within the ack bound (3 s here) instead of holding the request until Segment gives up', async () => {
    const pid = brokerPid();
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const answers = await Promise.all([0, 1, 2].map((i) => gw.post('/v1/track', aTrackEvent({ messageId: `frozen-${i}` }), auth)));
      const seconds = (Date.now() - started) / 1000;
      for (const answer of answers) {
        expect([answer.status, await answer.json()]).toEqual([503, { message: 'the events could not be stored (Kafka unavailable); retry later' }]);
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      // The bound is 3 s; Segment waits 10 s. Not a timing target: the request must not hang.
      expect(seconds).toBeGreaterThanOrEqual(3);
      expect(seconds).toBeLessThan(8);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(async () => (await gw.post('/v1/track', aTrackEvent({ messageId: 'frozen-0' }), auth)).status === 200, { timeoutMs: 60_000, intervalMs: 500, what: 'the request to succeed once the broker answers again' });
  }, 120_000);
});
