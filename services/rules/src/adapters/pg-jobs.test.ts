import { addressOf, parseAddress } from './pg-jobs';

// A paged job republishes each event with its address as the jobId; usage
// echoes it in the verdict, which is how the verdict finds its page.

describe('reprocess addresses', () => {
  it('round-trips job id, page and index', () => {
    const jobId = '6f1c2f4e-6a43-4a3e-9d61-3f1f6f3e2b10';
    expect(parseAddress(addressOf(jobId, 12, 4999))).toEqual({ jobId, pageNo: 12, index: 4999 });
    expect(parseAddress(addressOf(jobId, 1, 0))).toEqual({ jobId, pageNo: 1, index: 0 });
  });

  it.each([
    ['a plain job id (a job that records items)', '6f1c2f4e-6a43-4a3e-9d61-3f1f6f3e2b10'],
    ['a late republish', 'late:7'],
    ['a missing index', 'job/3'],
    ['a non-numeric page', 'job/x/3'],
    ['an empty job id', '/1/2'],
    ['extra parts', 'job/1/2/3'],
    ['a negative index', 'job/1/-2'],
  ])('is not read from %s', (_what, value) => {
    expect(parseAddress(value)).toBeUndefined();
  });
});
