// What makes an identity field valid, shared by the identity service (identify
// traits, imports) and the admin API's request schemas (admin-api.ts).

export type BillingProvider = 'stripe' | 'chargebee';

export const MAX_NAME_LENGTH = 1000;
const MAX_EMAIL_LENGTH = 320;

// Billing id decision: Stripe customer ids are `cus_` + base62 (14+ chars in
// practice; we accept 8+). Chargebee customer ids are either generated base62
// strings or merchant-chosen ids of letters, digits, `_` and `-`, up to 50
// characters. An id starting with `cus_` that is not a valid Stripe id is
// refused rather than taken for Chargebee, because it is almost certainly a
// truncated or mistyped Stripe id. Anything with spaces, `@`, dots or other
// punctuation (an email, a name pasted in the wrong field) is refused.
const STRIPE_ID = /^cus_[A-Za-z0-9]{8,}$/;
const CHARGEBEE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{2,49}$/;
/** The two rules above in words, for the messages that refuse an id (a bare "cus_…" does not say what was wrong). */
export const STRIPE_ID_RULE = "'cus_' and at least 8 letters or digits, e.g. cus_NffrFeUfNV2Hib";
export const CHARGEBEE_ID_RULE = 'a Chargebee id is 3-50 letters, digits, _ or -, starting with a letter or digit';
// Deliberately loose: one @, a dot in the domain, no whitespace. Stricter
// checks reject real addresses; the point is to catch values that are not emails.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function billingProviderOf(id: string): BillingProvider | undefined {
  if (id.startsWith('cus_')) return STRIPE_ID.test(id) ? 'stripe' : undefined;
  return CHARGEBEE_ID.test(id) ? 'chargebee' : undefined;
}

export function normalizeEmail(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed.length > MAX_EMAIL_LENGTH || !EMAIL.test(trimmed)) return undefined;
  return trimmed.toLowerCase();
}
