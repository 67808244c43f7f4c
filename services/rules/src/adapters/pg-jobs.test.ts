import { addressOf, applyVerdicts, groupVerdicts, type Outcome } from './pg-jobs';

/** How groupVerdicts reads one verdict's jobId: its page and index when it is an address, else undefined. */
function readAddress(jobId: string): { jobId: string; pageNo: number; index: number } | undefined {
  const [page] = groupVerdicts([{ jobId, accountId: 'acct_1', messageId: 'm-1', mapped: true }]).byPage.values();
  return page && { jobId: page.jobId, pageNo: page.pageNo, index: page.indexes[0]! };
}

// A paged job republishes each event with its address as the jobId; usage
// echoes it in the verdict, which is how the verdict finds its page.

describe('reprocess addresses', () => {
  it('round-trips job id, page and index', () => {
    const jobId = '6f1c2f4e-6a43-4a3e-9d61-3f1f6f3e2b10';
    expect(readAddress(addressOf(jobId, 12, 4999))).toEqual({ jobId, pageNo: 12, index: 4999 });
    expect(readAddress(addressOf(jobId, 1, 0))).toEqual({ jobId, pageNo: 1, index: 0 });
  });

  it.each([
    ['a plain job id (a job that records items)', '6f1c2f4e-6a43-4a3e-9d61-3f1f6f3e2b10'],
    ['a late republish', 'late:7'],
    ['a missing index', 'job/3'],
    ['a non-numeric page', 'job/x/3'],
    ['an empty job id', '/1/2'],
    ['extra parts', 'job/1/2/3'],
    ['a negative index', 'job/1/-2'],
    ['a page number with a leading zero (addressOf writes none)', 'job/01/2'],
    ['an index with a leading zero', 'job/1/02'],
    ['a number of ten digits', 'job/1/1234567890'],
    ['non-ASCII digits', 'job/1/\u0663'],
  ])('is not read from %s', (_what, value) => {
    expect(readAddress(value)).toBeUndefined();
  });
});

describe('verdicts by page', () => {
  const job = '6f1c2f4e-6a43-4a3e-9d61-3f1f6f3e2b10';
  const verdict = (jobId: string, mapped: boolean, accountId = 'acct_1'): Outcome => ({ jobId, accountId, messageId: `m-${jobId}`, mapped });

  it('groups addressed verdicts by page and passes the others through', () => {
    const plain = verdict(job, true);
    const { byItem, byPage } = groupVerdicts([verdict(addressOf(job, 2, 7), true), plain, verdict(addressOf(job, 2, 0), false), verdict(addressOf(job, 10, 3), true)]);
    expect(byItem).toEqual([plain]);
    expect([...byPage]).toEqual([
      [`${job}/2`, { jobId: job, pageNo: 2, indexes: [7, 0], accountIds: ['acct_1', 'acct_1'], mapped: [true, false] }],
      [`${job}/10`, { jobId: job, pageNo: 10, indexes: [3], accountIds: ['acct_1'], mapped: [true] }],
    ]);
  });

  it("counts each event of a page once, and nothing that is not the page's", () => {
    const rows = [
      { job_id: job, page_no: 2, account_id: 'acct_1', verdicts: '00000' },
      { job_id: job, page_no: 3, account_id: 'acct_1', verdicts: '20' },
    ];
    const { byPage } = groupVerdicts([
      verdict(addressOf(job, 2, 0), true),
      verdict(addressOf(job, 2, 0), true), // redelivered in the same batch
      verdict(addressOf(job, 2, 4), false),
      verdict(addressOf(job, 2, 1), true, 'acct_other'), // another account's verdict for this job
      verdict(addressOf(job, 2, 5), true), // outside the page
      verdict(addressOf(job, 3, 0), true), // already counted by an earlier batch
      verdict(addressOf(job, 4, 0), true), // a page never recorded
    ]);
    const { changed, counts } = applyVerdicts(rows, byPage);
    expect(changed).toEqual([{ jobId: job, pageNo: 2, verdicts: '20001' }]);
    expect(counts).toEqual(new Map([[job, { processed: 2, mapped: 1 }]]));
  });
});
