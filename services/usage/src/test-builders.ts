import { randomUUID } from 'node:crypto';
import type { ReprocessMessage, RulesSnapshot, TrackMessage } from '@kana/schemas';

// Builders with complete defaults and partial overrides, shared by the tests.

export function aTrackMessage(overrides: Partial<TrackMessage['event']> = {}, accountId = 'acc_1'): TrackMessage {
  return {
    schemaVersion: 1,
    accountId,
    requestId: `req-${randomUUID()}`,
    receivedAt: '2026-11-28T10:00:00.000Z',
    event: {
      type: 'track',
      event: 'Message Sent',
      userId: 'user-1',
      messageId: `m-${randomUUID()}`,
      timestamp: '2026-11-28T09:59:59.000Z',
      context: {},
      integrations: {},
      properties: {},
      ...overrides,
    },
  };
}

export function aReprocessMessage(track: TrackMessage, minRulesVersion: number, jobId = 'job-1'): ReprocessMessage {
  return { ...track, requestId: `reprocess-${randomUUID()}`, jobId, minRulesVersion };
}

export function aSnapshot(overrides: Partial<RulesSnapshot> = {}): RulesSnapshot {
  return {
    accountId: 'acc_1',
    version: 1,
    features: [
      { id: 'messages', name: 'Messages' },
      { id: 'sms', name: 'SMS' },
    ],
    rules: [
      { id: 'rule-messages', featureId: 'messages', eventName: 'Message Sent', conditions: [] },
      { id: 'rule-sms', featureId: 'sms', eventName: 'Message Sent', conditions: [{ property: 'channel', operator: 'eq', value: 'sms' }] },
    ],
    ...overrides,
  };
}
