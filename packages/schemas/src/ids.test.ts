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

  it('never changes for the same parts: ids already stored must be computed again identically', () => {
    expect(usageRecordId('acc_1', 'm-1', 'messages')).toBe('74e6e8c6-8c72-8b18-833c-220674cee83e');
    expect(usageRecordId('acc_01J9ZQ', 'é-msg', 'seats')).toBe('5897fc23-e51e-8c60-bcf5-cb86f25d4ca3');
  });

  it('has the shape of a UUID so it fits a uuid column', () => {
    expect(usageRecordId('a', 'b', 'c')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
