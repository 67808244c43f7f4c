import { billingProviderOf, normalizeEmail } from '@kana/schemas';
import { readIdentityTraits } from './traits';

describe('billingProviderOf', () => {
  it.each([
    ['cus_Lp1bSKob4laHDD', 'stripe'],
    ['cus_12345678', 'stripe'],
    ['cus_short', undefined], // a cus_ prefix that is not a Stripe id is not taken for Chargebee
    ['cus_Lp1b-SKob', undefined],
    ['AzZlGYSe8mY3F1Dxo', 'chargebee'],
    ['customer_42-eu', 'chargebee'],
    ['ab', undefined],
    ['x'.repeat(51), undefined],
    ['john@example.com', undefined],
    ['John Doe', undefined],
    ['', undefined],
  ])('%s → %s', (id, provider) => {
    expect(billingProviderOf(id)).toBe(provider);
  });
});

describe('normalizeEmail', () => {
  it.each([
    ['  John.Doe@Example.COM ', 'john.doe@example.com'],
    ['a@b.co', 'a@b.co'],
    ['not-an-email', undefined],
    ['a@b', undefined],
    ['a b@c.com', undefined],
    ['a@@b.com', undefined],
  ])('%s → %s', (raw, normalized) => {
    expect(normalizeEmail(raw)).toBe(normalized);
  });
});

describe('readIdentityTraits', () => {
  it('keeps name, email and billing id and drops every other trait, Engage audiences included', () => {
    const fields = readIdentityTraits({ name: ' Ann ', email: 'Ann@X.io', billingUserId: 'cus_Lp1bSKob4laHDD', plan: 'pro', is_power_user: true });
    expect(fields).toEqual({
      name: 'Ann',
      email: { value: 'Ann@X.io', normalized: 'ann@x.io' },
      billing: { id: 'cus_Lp1bSKob4laHDD', provider: 'stripe' },
      problems: [],
    });
  });

  it('reads billingId when billingUserId is absent, and billingUserId wins when both are sent', () => {
    expect(readIdentityTraits({ billingId: 'cus_FromBillingId1' }).billing?.id).toBe('cus_FromBillingId1');
    expect(readIdentityTraits({ billingId: 'cus_FromBillingId1', billingUserId: 'cus_FromBillingUser' }).billing?.id).toBe('cus_FromBillingUser');
  });

  it('reads billingId when billingUserId is sent empty (a blank mapping must not hide it)', () => {
    expect(readIdentityTraits({ billingId: 'cus_FromBillingId1', billingUserId: '' })).toEqual({ billing: { id: 'cus_FromBillingId1', provider: 'stripe' }, problems: [] });
    expect(readIdentityTraits({ billingId: 'cus_FromBillingId1', billingUserId: '  ' }).billing?.id).toBe('cus_FromBillingId1');
    expect(readIdentityTraits({ billingUserId: '' })).toEqual({ problems: [] });
  });

  it('turns an invalid billing id, email or name into problems naming the trait, without the field', () => {
    const fields = readIdentityTraits({ billingUserId: 'john@example.com', email: 'nope', name: 42 });
    expect(fields.billing).toBeUndefined();
    expect(fields.email).toBeUndefined();
    expect(fields.name).toBeUndefined();
    expect(fields.problems.map((p) => p.kind)).toEqual(['invalid_name', 'invalid_email', 'invalid_billing_id']);
    expect(fields.problems[2]!.detail).toContain('billingUserId "john@example.com"');
    // The detail says what a valid id looks like: a short one is refused, and the reader learns why.
    expect(readIdentityTraits({ billingUserId: 'cus_Short1' }).problems[0]!.detail).toBe(
      "billingUserId \"cus_Short1\" is neither a Stripe customer id ('cus_' and at least 8 letters or digits, e.g. cus_NffrFeUfNV2Hib) nor a Chargebee customer id (a Chargebee id is 3-50 letters, digits, _ or -, starting with a letter or digit); not stored",
    );
  });

  it('treats empty and null traits as not carried', () => {
    expect(readIdentityTraits({ name: '', email: '  ', billingUserId: null, billingId: null })).toEqual({ problems: [] });
  });
});
