import { reprocessedMessage, verdictsOf } from './messages';

describe('reprocessedMessage', () => {
  const verdict = { jobId: 'job-1/0/3', messageId: 'm-1', mapped: true, rulesVersion: 4 };

  it("reads usage's batched verdicts", () => {
    const message = reprocessedMessage.parse({ schemaVersion: 1, accountId: 'acc_1', verdicts: [verdict, { ...verdict, messageId: 'm-2', mapped: false }] });
    expect(verdictsOf(message).map((v) => [v.messageId, v.mapped])).toEqual([
      ['m-1', true],
      ['m-2', false],
    ]);
  });

  it('reads one verdict per message, as usage sent them before batching (still in the topic after an upgrade)', () => {
    const message = reprocessedMessage.parse({ schemaVersion: 1, accountId: 'acc_1', userId: 'u-1', ...verdict });
    expect(verdictsOf(message)).toEqual([verdict]);
  });

  it.each([
    ['neither form', {}],
    ['both forms', { verdicts: [verdict], ...verdict }],
    ['a single verdict without its outcome', { jobId: 'job-1/0/3', messageId: 'm-1', rulesVersion: 4 }],
    ['an empty list', { verdicts: [] }],
  ])('refuses %s', (_, fields) => {
    expect(reprocessedMessage.safeParse({ schemaVersion: 1, accountId: 'acc_1', ...fields }).success).toBe(false);
  });
});
