import { ACCOUNT_HEADER, inTransaction, type CoalescingProducer } from '@kana/platform';
import { readRawTopic, uniqueId, waitFor } from '@kana/platform/testing';
import { userKey, type ReprocessedMessage, type UnmappedMessage } from '@kana/schemas';
import { recordVerdicts } from './adapters/pg-jobs';
import { anUnmappedMessage, httpCall, startRulesWithUsage } from '../test/harness';

// A reprocess job whose events usage does not all report on (here: one it
// dead-letters) still ends: once walked and quiet for REPROCESS_SETTLE_MS it
// is done with the counts it has, and a verdict arriving later counts once.

const SETTLE_MS = 1_500;

describe('a reprocess job usage does not fully report on', () => {
  let system: Awaited<ReturnType<typeof startRulesWithUsage>>;
  let rules: typeof system.rules;
  let usage: typeof system.usage;
  let producer: CoalescingProducer;

  beforeAll(async () => {
    system = await startRulesWithUsage('settle-test', { REPROCESS_SETTLE_MS: String(SETTLE_MS), REPROCESS_POLL_MS: '100' });
    ({ rules, usage, producer } = system);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  }, 120_000);

  const admin = (accountId: string) => system.admin(accountId);

  async function send<K extends 'unmapped' | 'reprocessed'>(topic: K, values: (K extends 'unmapped' ? UnmappedMessage : ReprocessedMessage)[]): Promise<void> {
    const messages = await Promise.all(
      values.map(async (value) => {
        const userId = 'event' in value ? value.event.userId : (value.userId ?? 'verdicts');
        return { key: userKey(value.accountId, userId), value: await rules.app.codec.encode(topic, value as never) };
      }),
    );
    await producer.send(rules.app.codec.topicName(topic), messages);
  }

  it('ends done with processed < total after the settle interval, and a late verdict counts once', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'exports', name: 'Exports' });
    // Stored unmapped before any rule (evaluated with the current version 1, so
    // not republished as late): two good events and one whose delta usage
    // refuses (the gateway rejects those today; older data may hold them).
    const good = [1, 2].map(() => anUnmappedMessage(accountId, { event: 'Export', userId: 'u1', properties: { delta: 1 } }, { rulesVersion: 1 }));
    const bad = anUnmappedMessage(accountId, { event: 'Export', userId: 'u1', properties: { delta: 'lots' } }, { rulesVersion: 1 });
    await send('unmapped', [...good, bad]);
    await waitFor(async () => (await as('GET', '/v1/events/unmapped?eventName=Export')).json().data.length === 3, { timeoutMs: 60_000, what: '3 stored events' });

    expect((await as('POST', '/v1/rules', { featureId: 'exports', eventName: 'Export' })).statusCode).toBe(201);
    const [{ id: jobId }] = (await as('GET', '/v1/reprocess-jobs?limit=1')).json().data;
    const job = await waitFor(
      async () => {
        const current = (await as('GET', `/v1/reprocess-jobs/${jobId}`)).json();
        return current.status === 'running' ? undefined : current;
      },
      { timeoutMs: 60_000, what: 'the job to finish' },
    );
    expect(job).toMatchObject({ status: 'done', total: 3, processed: 2, mapped: 2 });

    // What the user sees besides: the two good events counted, the refused one still listed and dead-lettered.
    const usageTotal = (await httpCall(usage.url, 'GET', '/v1/usage?featureId=exports', undefined, { [ACCOUNT_HEADER]: accountId })).json().data;
    expect(usageTotal).toEqual([{ userId: 'u1', featureId: 'exports', total: 2 }]);
    const left = (await as('GET', '/v1/events/unmapped?eventName=Export')).json().data;
    expect(left.map((event: { messageId: string }) => event.messageId)).toEqual([bad.event.messageId]);
    const dead = await readRawTopic(rules.app.codec.topicName('dlq'), (messages) => messages.length >= 1);
    expect(dead).toHaveLength(1);

    // A verdict for the missing event arriving after the job settled counts, once. Usage echoes the
    // jobId the event was republished with (the job's id and the event's address in the job's pages).
    const republished = await readRawTopic(rules.app.codec.topicName('reprocess'), (messages) => messages.length >= 3);
    const values = await Promise.all(republished.map((message) => rules.app.codec.decode('reprocess', message.value)));
    const sentWith = values.find((value) => value.event.messageId === bad.event.messageId)!.jobId;
    expect(sentWith.startsWith(`${jobId}/`)).toBe(true);
    // Sent as usage sent verdicts before it batched them (one per message): still in the topic after an upgrade, it counts.
    const late: ReprocessedMessage = { schemaVersion: 1, accountId, jobId: sentWith, messageId: bad.event.messageId, userId: 'u1', mapped: false, rulesVersion: 2 };
    await send('reprocessed', [late]);
    await waitFor(async () => (await as('GET', `/v1/reprocess-jobs/${jobId}`)).json().processed === 3, { timeoutMs: 30_000, what: 'the late verdict counted' });
    await inTransaction(rules.app.pool, (tx) => recordVerdicts(tx, [{ jobId: sentWith, accountId, messageId: bad.event.messageId, mapped: false }])); // redelivered
    await rules.app.worker.sweep(); // folds the finished job's counts into its row
    expect((await as('GET', `/v1/reprocess-jobs/${jobId}`)).json()).toMatchObject({ status: 'done', total: 3, processed: 3, mapped: 2 });
  }, 120_000);

  it('does not call a quiet job done while usage still reports on another account’s replay', async () => {
    const accountId = uniqueId('acc');
    const as = admin(accountId);
    await as('POST', '/v1/features', { id: 'exports', name: 'Exports' });
    const bad = anUnmappedMessage(accountId, { event: 'Export', userId: 'u1', properties: { delta: 'lots' } }, { rulesVersion: 1 });
    await send('unmapped', [bad]);
    await waitFor(async () => (await as('GET', '/v1/events/unmapped?eventName=Export')).json().data.length === 1, { timeoutMs: 60_000, what: 'the stored event' });

    // Another account's long replay: walked, and usage reporting on it every 200 ms (its verdicts, as
    // recordVerdicts writes them), so the events of this account's job may still be queued behind it.
    const other = uniqueId('big');
    await rules.app.pool.query(
      `INSERT INTO reprocess_jobs (id, account_id, rules_version, status, event_names, feature_ids, walk_done, total, published, walked_at, paged)
       VALUES ($1, $2, 2, 'running', '{Big}', '{}', true, 1000000, 1000000, now(), true)`,
      [other, uniqueId('acc')],
    );
    const reporting = setInterval(() => void rules.app.pool.query('INSERT INTO reprocess_progress (job_id, processed, mapped) VALUES ($1, 1000, 1000)', [other]), 200);
    try {
      expect((await as('POST', '/v1/rules', { featureId: 'exports', eventName: 'Export' })).statusCode).toBe(201);
      const [{ id: jobId }] = (await as('GET', '/v1/reprocess-jobs?limit=1')).json().data;
      // The dead-lettered event never gets a verdict: the job's own silence passes the settle interval...
      await new Promise((resolve) => setTimeout(resolve, 3 * SETTLE_MS));
      expect((await as('GET', `/v1/reprocess-jobs/${jobId}`)).json()).toMatchObject({ status: 'running', total: 1, processed: 0 });
      clearInterval(reporting);
      // ...and once usage has reported on nothing for the settle interval, it ends.
      const job = await waitFor(
        async () => {
          const current = (await as('GET', `/v1/reprocess-jobs/${jobId}`)).json();
          return current.status === 'running' ? undefined : current;
        },
        { timeoutMs: 30_000, what: 'the job to settle' },
      );
      expect(job).toMatchObject({ status: 'done', total: 1, processed: 0 });
    } finally {
      clearInterval(reporting);
      await rules.app.pool.query(`UPDATE reprocess_jobs SET status = 'failed', finished_at = now() WHERE id = $1`, [other]);
    }
  }, 120_000);
});
