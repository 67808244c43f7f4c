import { ACCOUNT_HEADER, type CoalescingProducer } from '@kana/platform';
import { uniqueId, waitFor } from '@kana/platform/testing';
import { userKey, type TrackMessage } from '@kana/schemas';
import * as jobs from './adapters/pg-jobs';
import { takeRecordedPage } from './adapters/pg-unmapped-store';
import { aTrackEvent, httpCall, startRulesWithUsage } from '../test/harness';

// The retroactive path through the real stack and the real usage service:
// events arrive with no rule → listed as unmapped → rule created → job runs →
// usage records exist → the mapped events leave the unmapped list.

describe('retroactive reprocessing with the real usage service', () => {
  let system: Awaited<ReturnType<typeof startRulesWithUsage>>;
  let rules: typeof system.rules;
  let usage: typeof system.usage;
  let producer: CoalescingProducer;

  beforeAll(async () => {
    system = await startRulesWithUsage('retro-test', { REPROCESS_PAGE_SIZE: '100' });
    ({ rules, usage, producer } = system);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  }, 120_000);

  const admin = (accountId: string) => system.admin(accountId);

  /** What the gateway does: put track events on the live topic. */
  async function track(accountId: string, events: ReturnType<typeof aTrackEvent>[]): Promise<void> {
    const messages = await Promise.all(
      events.map(async (event) => {
        const value: TrackMessage = { schemaVersion: 1, accountId, requestId: uniqueId('req-'), receivedAt: event.timestamp, event };
        return { key: userKey(accountId, event.userId), value: await rules.app.codec.encode('track', value) };
      }),
    );
    await producer.send(rules.app.codec.topicName('track'), messages);
  }

  async function usageTotal(accountId: string, featureId: string): Promise<number> {
    const reply = await httpCall(usage.url, 'GET', `/v1/usage?featureId=${featureId}`, undefined, { [ACCOUNT_HEADER]: accountId });
    return (reply.json().data as { total: number }[]).reduce((sum, row) => sum + row.total, 0);
  }

  async function unmappedCount(accountId: string): Promise<number> {
    return (await admin(accountId)('GET', '/v1/events/unmapped?limit=1000')).json().data.length;
  }

  async function jobDone(accountId: string, jobId: string) {
    return waitFor(
      async () => {
        const job = (await admin(accountId)('GET', `/v1/reprocess-jobs/${jobId}`)).json();
        return job.status === 'done' ? job : undefined;
      },
      { timeoutMs: 60_000, what: `job ${jobId} done` },
    );
  }

  async function latestJob(accountId: string) {
    return (await admin(accountId)('GET', '/v1/reprocess-jobs?limit=1')).json().data[0];
  }

  it('maps stored events when a matching rule or feature is created later, counting each once', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    const pro = Array.from({ length: 20 }, (_, i) => aTrackEvent({ userId: `u${i % 4}`, properties: { plan: 'pro', seats: String(i) } }));
    const free = Array.from({ length: 10 }, (_, i) => aTrackEvent({ userId: `u${i % 4}`, properties: { plan: 'free' } }));
    const named = Array.from({ length: 5 }, () => aTrackEvent({ event: 'Export', properties: { featureId: 'exports' } }));
    // A featureId left blank names no feature: the rules decide, as for the events without one.
    const blank = Array.from({ length: 3 }, () => aTrackEvent({ properties: { plan: 'pro', featureId: '' } }));
    await as('POST', '/v1/features', { id: 'other', name: 'Other' }); // the account has rules, none for these events
    await track(accountId, [...pro, ...free, ...named, ...blank]);
    await waitFor(async () => (await unmappedCount(accountId)) === 38, { timeoutMs: 60_000, what: '38 unmapped events' });

    const listed = (await as('GET', `/v1/events/unmapped?eventName=Export&limit=2`)).json();
    expect(listed.data).toHaveLength(2);
    expect(listed.data[0]).toMatchObject({ event: 'Export', reason: 'unknown_feature', properties: { featureId: 'exports' } });
    const rest = (await as('GET', `/v1/events/unmapped?eventName=Export&cursor=${listed.nextCursor}`)).json();
    expect(rest.data).toHaveLength(3);
    expect(rest.nextCursor).toBeNull();

    const draft = { featureId: 'messages', eventName: 'Message Sent', conditions: [{ property: 'plan', operator: 'eq', value: 'pro' }] };
    const preview = (await as('POST', '/v1/rules/preview', draft)).json();
    expect(preview).toMatchObject({ matchingUnmapped: 23, complete: true, scanned: 33 });
    expect(preview.sample).toHaveLength(10);
    expect(preview.sample[0].properties.plan).toBe('pro');

    await as('POST', '/v1/features', { id: 'messages', name: 'Messages' });
    expect((await as('POST', '/v1/rules', draft)).statusCode).toBe(201);
    const ruleJob = await jobDone(accountId, (await latestJob(accountId)).id);
    // The job republishes every stored event of the rule's name (33); usage maps the 23 that match.
    expect(ruleJob).toMatchObject({ total: 33, processed: 33, mapped: 23 });
    expect(await usageTotal(accountId, 'messages')).toBe(23);
    await waitFor(async () => (await unmappedCount(accountId)) === 15, { what: 'mapped events leave the unmapped list' });
    const left = (await as('GET', '/v1/events/unmapped?eventName=Message%20Sent&limit=1000')).json().data;
    expect(left.every((event: { properties: { plan: string } }) => event.properties.plan === 'free')).toBe(true);

    await as('POST', '/v1/features', { id: 'exports', name: 'Exports' });
    const featureJob = await jobDone(accountId, (await latestJob(accountId)).id);
    expect(featureJob).toMatchObject({ total: 5, processed: 5, mapped: 5 });
    expect(await usageTotal(accountId, 'exports')).toBe(5);
    await waitFor(async () => (await unmappedCount(accountId)) === 10, { what: 'exports leave the unmapped list' });
    expect(await usageTotal(accountId, 'messages')).toBe(23);
  }, 120_000);

  it('a newer change supersedes a walking job and the totals stay exact', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'a', name: 'A' });
    await as('POST', '/v1/features', { id: 'b', name: 'B' });
    const eventsA = Array.from({ length: 1500 }, (_, i) => aTrackEvent({ event: 'A', userId: `u${i % 10}` }));
    const eventsB = Array.from({ length: 300 }, (_, i) => aTrackEvent({ event: 'B', userId: `u${i % 10}` }));
    await track(accountId, [...eventsA, ...eventsB]);
    await waitFor(async () => (await countStored(accountId)) === 1800, { timeoutMs: 60_000, what: '1800 unmapped events' });

    await as('POST', '/v1/rules', { featureId: 'a', eventName: 'A' });
    const first = await latestJob(accountId);
    await as('POST', '/v1/rules', { featureId: 'b', eventName: 'B' });
    const second = await latestJob(accountId);
    expect(second.id).not.toBe(first.id);

    const done = await jobDone(accountId, second.id);
    expect(done.processed).toBe(done.total);
    const firstNow = (await as('GET', `/v1/reprocess-jobs/${first.id}`)).json();
    expect(['superseded', 'done']).toContain(firstNow.status);
    if (firstNow.status === 'superseded') expect(done.total).toBeGreaterThanOrEqual(300);
    await waitFor(async () => (await usageTotal(accountId, 'a')) === 1500 && (await usageTotal(accountId, 'b')) === 300, { timeoutMs: 60_000, what: 'usage totals' });
    await waitFor(async () => (await countStored(accountId)) === 0, { what: 'unmapped store emptied' });
    expect(await usageTotal(accountId, 'a')).toBe(1500);
    expect(await usageTotal(accountId, 'b')).toBe(300);
  }, 120_000);

  it('a job interrupted midway resumes from its cursor and counts every event once', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'c', name: 'C' });
    await track(accountId, Array.from({ length: 2000 }, (_, i) => aTrackEvent({ event: 'C', userId: `u${i % 10}` })));
    await waitFor(async () => (await countStored(accountId)) === 2000, { timeoutMs: 60_000, what: '2000 unmapped events' });

    await as('POST', '/v1/rules', { featureId: 'c', eventName: 'C' });
    const job = await latestJob(accountId);
    expect(job.total).toBe(2000);
    // Stop the walker midway (pages of 100) ...
    await waitFor(async () => (await jobRow(job.id)).published >= 300, { intervalMs: 5, what: 'a few pages published' });
    await rules.app.worker.stop();
    // ... and rewind its cursor by two pages, as a crash between "Kafka
    // acknowledged the page" and "cursor saved" leaves it: those pages go out twice.
    const { published } = await jobRow(job.id);
    const { rows } = await rules.app.pool.query(
      `SELECT event_time::text AS t, message_id FROM unmapped_events WHERE account_id = $1 ORDER BY event_time, message_id OFFSET $2 LIMIT 1`,
      [accountId, published - 201],
    );
    await rules.app.pool.query(
      `UPDATE reprocess_jobs SET cursor_time = $2, cursor_message_id = $3, walk_done = false, status = 'running' WHERE id = $1`,
      [job.id, rows[0].t, rows[0].message_id],
    );
    await rules.app.worker.start(); // the restarted instance picks the job up at its cursor

    const done = await jobDone(accountId, job.id);
    expect(done).toMatchObject({ total: 2000, processed: 2000, mapped: 2000 });
    expect(await usageTotal(accountId, 'c')).toBe(2000);
    await waitFor(async () => (await countStored(accountId)) === 0, { what: 'unmapped store emptied' });
  }, 120_000);

  it('a page recorded but never sent (crash between record and send) goes out on resume, each event counted once', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'd', name: 'D' });
    await track(accountId, Array.from({ length: 450 }, (_, i) => aTrackEvent({ event: 'D', userId: `u${i % 10}` })));
    await waitFor(async () => (await countStored(accountId)) === 450, { timeoutMs: 60_000, what: '450 unmapped events' });

    await rules.app.worker.stop(); // nobody walks the job yet
    try {
      await as('POST', '/v1/rules', { featureId: 'd', eventName: 'D' });
      const job = await latestJob(accountId);
      expect(job).toMatchObject({ status: 'running', total: 450 });
      // What a walker that died right after recording its first page leaves: page 1 recorded, nothing sent, no cursor.
      const stored = await jobs.getJobById(rules.app.pool, job.id);
      const { events } = await takeRecordedPage(rules.app.pool, job.id, 1, accountId, stored!.rulesVersion, stored!.selection, 100);
      expect(events).toHaveLength(100);
    } finally {
      await rules.app.worker.start();
    }
    const done = await jobDone(accountId, (await latestJob(accountId)).id);
    expect(done).toMatchObject({ total: 450, processed: 450, mapped: 450 });
    expect(await usageTotal(accountId, 'd')).toBe(450);
    await waitFor(async () => (await countStored(accountId)) === 0, { what: 'unmapped store emptied' });
  }, 120_000);

  it('a job created before pages were recorded still walks by reprocess items and counts every event once', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'e', name: 'E' });
    await track(accountId, Array.from({ length: 350 }, (_, i) => aTrackEvent({ event: 'E', userId: `u${i % 10}` })));
    await waitFor(async () => (await countStored(accountId)) === 350, { timeoutMs: 60_000, what: '350 unmapped events' });

    await rules.app.worker.stop();
    try {
      await as('POST', '/v1/rules', { featureId: 'e', eventName: 'E' });
      // As migration 005 leaves a job that was running when it ran.
      await rules.app.pool.query('UPDATE reprocess_jobs SET paged = false WHERE id = $1', [(await latestJob(accountId)).id]);
    } finally {
      await rules.app.worker.start();
    }
    const job = await latestJob(accountId);
    const done = await jobDone(accountId, job.id);
    expect(done).toMatchObject({ total: 350, processed: 350, mapped: 350 });
    const { rows } = await rules.app.pool.query<{ items: string; pages: string }>(
      `SELECT (SELECT count(*) FROM reprocess_items WHERE job_id = $1) AS items, (SELECT count(*) FROM reprocess_pages WHERE job_id = $1) AS pages`,
      [job.id],
    );
    expect(rows[0]).toEqual({ items: '350', pages: '0' });
    expect(await usageTotal(accountId, 'e')).toBe(350);
  }, 120_000);

  async function jobRow(id: string): Promise<{ published: number }> {
    const { rows } = await rules.app.pool.query<{ published: string }>('SELECT published FROM reprocess_jobs WHERE id = $1', [id]);
    return { published: Number(rows[0]!.published) };
  }

  async function countStored(accountId: string): Promise<number> {
    const { rows } = await rules.app.pool.query<{ n: string }>('SELECT count(*) AS n FROM unmapped_events WHERE account_id = $1', [accountId]);
    return Number(rows[0]!.n);
  }
});
