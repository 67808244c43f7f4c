import { usageRecordId } from './ids';

describe('usageRecordId', () => {
  it('is the same for the same account, message and feature', () => {
    expect(usageRecordId('acc_1', 'm-1', 'messages')).toBe(usageRecordId('acc_1', 'm-1', 'messages'));
  });

  it('differs when any part differs, including where the parts split', () => {
    const ids = new Set([
      usageRecordId('acc_1', 'm-1', 'messages'),
      usageRecordId('acc_2', 'm-1', 'messages'),
      usageRecordId('acc_1', 'm-2', 'messages'),
      usageRecordId('acc_1', 'm-1', 'seats'),
      usageRecordId('acc_1:m', '-1', 'messages'),
    ]);
    expect(ids.size).toBe(5);
  });

  it('has the shape of a UUID so it fits a uuid column', () => {
    expect(usageRecordId('a', 'b', 'c')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
