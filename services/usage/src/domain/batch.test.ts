import { MAX_VERDICTS_PER_MESSAGE, reprocessedMessage } from '@kana/schemas';
import { aReprocessMessage, aSnapshot, aTrackMessage } from '../test-builders';
import { planBatch, snapshotNeeds } from './batch';
import { buildOutputs } from './outputs';

const snapshots = new Map([['acc_1', aSnapshot()]]);

describe('planBatch', () => {
  it('plans a message repeated within the batch once', () => {
    const message = aTrackMessage();
    const { planned } = planBatch('track', [{ offset: '1', value: message }, { offset: '2', value: message }], snapshots);
    expect(planned).toHaveLength(1);
  });

  it('stores an event two jobs republished in one batch once, and gives each job its verdict', () => {
    const track = aTrackMessage();
    const older = aReprocessMessage(track, 2, 'job-old');
    const newer = aReprocessMessage(track, 3, 'job-new');
    const { planned } = planBatch(
      'reprocess',
      [
        { offset: '1', value: older },
        { offset: '2', value: newer },
        { offset: '3', value: older },
      ],
      new Map([['acc_1', aSnapshot({ version: 3 })]]),
    );
    expect(planned).toHaveLength(1);
    const stored = { status: 'upgraded' as const, mapped: true, reason: null, rulesVersion: 3, eventTime: track.event.timestamp, records: [] };
    const { reprocessed } = buildOutputs(planned, [stored]);
    expect(reprocessed).toHaveLength(1);
    expect(reprocessed[0]!.verdicts!.map((verdict) => [verdict.jobId, verdict.messageId, verdict.mapped])).toEqual([
      ['job-old', track.event.messageId, true],
      ['job-new', track.event.messageId, true],
    ]);
  });

  it('dead-letters a bad delta by offset and plans the rest', () => {
    const bad = aTrackMessage({ properties: { delta: 'lots' } });
    const good = aTrackMessage();
    const { planned, deadLetters } = planBatch('track', [{ offset: '7', value: bad }, { offset: '8', value: good }], snapshots);
    expect(deadLetters).toEqual([{ offset: '7', reason: expect.stringContaining('properties.delta') }]);
    expect(planned.map((p) => p.message.event.messageId)).toEqual([good.event.messageId]);
  });

  it('refuses to plan without a snapshot rather than calling the event unmapped', () => {
    expect(() => planBatch('track', [{ offset: '1', value: aTrackMessage({}, 'acc_2') }], snapshots)).toThrow(/no rules snapshot/);
  });
});

describe('snapshotNeeds', () => {
  it('asks per account for the highest minRulesVersion of the batch', () => {
    const a = aTrackMessage();
    const needs = snapshotNeeds([
      { offset: '1', value: aReprocessMessage(a, 4) },
      { offset: '2', value: aReprocessMessage(aTrackMessage(), 6) },
      { offset: '3', value: aTrackMessage({}, 'acc_2') },
    ]);
    expect(needs).toEqual(new Map([['acc_1', 6], ['acc_2', 0]]));
  });
});

describe('buildOutputs', () => {
  it('sends live unmapped events to the unmapped topic with the stored reason, and reprocessed ones only as an outcome', () => {
    const live = aTrackMessage({ event: 'Nothing' });
    const replayed = aReprocessMessage(aTrackMessage({ event: 'Nothing' }), 1, 'job-9');
    const { planned } = planBatch('track', [{ offset: '1', value: live }], snapshots);
    const { planned: planned2 } = planBatch('reprocess', [{ offset: '1', value: replayed }], snapshots);
    const stored = { status: 'new' as const, mapped: false, reason: 'no_rule' as const, rulesVersion: 1, eventTime: live.event.timestamp, records: [] };
    const outputs = buildOutputs([...planned, ...planned2], [stored, stored]);
    expect(outputs.unmapped).toEqual([expect.objectContaining({ reason: 'no_rule', jobId: null, event: live.event })]);
    expect(outputs.reprocessed).toEqual([
      { schemaVersion: 1, accountId: 'acc_1', verdicts: [{ jobId: 'job-9', mapped: false, messageId: replayed.event.messageId, rulesVersion: 1 }] },
    ]);
  });

  it("sends a batch's verdicts as one message per account, split where a message would hold too many", () => {
    const twoAccounts = new Map([...snapshots, ['acc_2', aSnapshot({ accountId: 'acc_2' })]]);
    const messages = [
      ...Array.from({ length: MAX_VERDICTS_PER_MESSAGE + 1 }, () => aReprocessMessage(aTrackMessage({ event: 'Nothing' }), 1, 'job-a')),
      aReprocessMessage(aTrackMessage({ event: 'Nothing' }, 'acc_2'), 1, 'job-b'),
    ];
    const { planned } = planBatch('reprocess', messages.map((value, i) => ({ offset: String(i), value })), twoAccounts);
    const stored = planned.map((event) => ({ status: 'existing' as const, mapped: false, reason: 'no_rule' as const, rulesVersion: 1, eventTime: event.message.event.timestamp, records: [] }));
    const { reprocessed, reprocessedKeys } = buildOutputs(planned, stored);
    // Keyed by the account's first event: the batch's verdicts share a partition, as its events did.
    expect(reprocessedKeys).toEqual(['acc_1:user-1', 'acc_1:user-1', 'acc_2:user-1']);
    expect(reprocessed.map((message) => [message.accountId, message.verdicts!.length])).toEqual([
      ['acc_1', MAX_VERDICTS_PER_MESSAGE],
      ['acc_1', 1],
      ['acc_2', 1],
    ]);
    const sent = reprocessed.flatMap((message) => message.verdicts!.map((verdict) => verdict.messageId));
    expect(new Set(sent)).toEqual(new Set(messages.map((message) => message.event.messageId)));
    for (const message of reprocessed) expect(reprocessedMessage.safeParse(message).success).toBe(true);
  });

  it('reports a retried unmapped event with the time it was stored with, so it is listed once', () => {
    const retry = aTrackMessage({ event: 'Nothing', timestamp: '2026-11-28T10:00:05.000Z' });
    const { planned } = planBatch('track', [{ offset: '1', value: retry }], snapshots);
    const stored = { status: 'existing' as const, mapped: false, reason: 'no_rule' as const, rulesVersion: 1, eventTime: '2026-11-28T10:00:01.000Z', records: [] };
    const [unmapped] = buildOutputs(planned, [stored]).unmapped;
    expect(unmapped!.event).toEqual({ ...retry.event, timestamp: '2026-11-28T10:00:01.000Z' });
  });
});
