// Test data as Segment sends it, with complete defaults and partial overrides.

export function aTrackEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    userId: 'user-1',
    event: 'Message Sent',
    properties: { featureId: 'messages', delta: 1 },
    messageId: `msg-${Math.random().toString(36).slice(2)}`,
    timestamp: '2024-05-01T10:00:00.000Z',
    context: { library: { name: 'analytics-node', version: '6.0.0' } },
    ...overrides,
  };
}

export function anIdentifyEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'identify',
    userId: 'user-1',
    traits: { name: 'John Doe', email: 'john.doe@example.com', billingUserId: 'cus_Lp1bSKob4laHDD' },
    messageId: `msg-${Math.random().toString(36).slice(2)}`,
    timestamp: '2024-05-01T10:00:00.000Z',
    ...overrides,
  };
}

/** Removes a field from an event (builders' overrides cannot express absence). */
export function without(event: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  const copy = { ...event };
  for (const name of names) delete copy[name];
  return copy;
}
