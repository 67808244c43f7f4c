import type { IdentifyInput, UserRecord } from '../src/domain/user';

// Test data builders with complete defaults and partial overrides.

export function anIdentify(overrides: Partial<IdentifyInput> = {}): IdentifyInput {
  return {
    accountId: 'acc1',
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    userId: 'u1',
    timestamp: '2024-05-01T10:00:00.000Z',
    traits: {},
    ...overrides,
  };
}

export function aUser(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: `id-${Math.random().toString(36).slice(2)}`,
    accountId: 'acc1',
    userId: 'u1',
    email: null,
    emailNormalized: null,
    name: null,
    billingId: null,
    billingProvider: null,
    source: 'identify',
    nameAt: null,
    emailAt: null,
    billingAt: null,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A Stripe import: no userId, no field timestamps (any identify wins over it). */
export function anImport(overrides: Partial<UserRecord> = {}): UserRecord {
  return aUser({ userId: null, source: 'import', billingId: 'cus_Imported0001', billingProvider: 'stripe', ...overrides });
}

export function withEmail(email: string): Pick<UserRecord, 'email' | 'emailNormalized'> {
  return { email, emailNormalized: email.trim().toLowerCase() };
}
