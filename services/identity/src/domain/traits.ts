// Reads the three traits Kana maps (name, email, billing id) from an identify
// event's traits; every other trait (Engage audience booleans included) is
// dropped on purpose. Bad values never throw: they come back as problems that
// the caller records as identity issues, and the field is simply not applied.

import { billingProviderOf, CHARGEBEE_ID_RULE, normalizeEmail, MAX_NAME_LENGTH, STRIPE_ID_RULE, type BillingProvider } from '@kana/schemas';

export type IssueKind = 'invalid_billing_id' | 'invalid_email' | 'invalid_name' | 'merge_conflict';

export interface Problem {
  kind: IssueKind;
  detail: string;
  /** For merge_conflict: the normalised email that is ambiguous (the conflict is resolved once it no longer is). */
  email?: string;
}

export interface IdentityFields {
  /** Absent when the event does not carry the field (or carries it empty). */
  name?: string;
  email?: { value: string; normalized: string };
  billing?: { id: string; provider: BillingProvider };
  problems: Problem[];
}

export function readIdentityTraits(traits: Record<string, unknown>): IdentityFields {
  const fields: IdentityFields = { problems: [] };

  const name = traits.name;
  if (typeof name === 'string') {
    const trimmed = name.trim();
    if (trimmed.length > MAX_NAME_LENGTH) {
      fields.problems.push({ kind: 'invalid_name', detail: `name is longer than ${MAX_NAME_LENGTH} characters; not stored` });
    } else if (trimmed !== '') {
      fields.name = trimmed;
    }
  } else if (name !== undefined && name !== null) {
    fields.problems.push({ kind: 'invalid_name', detail: `name must be a string, got ${typeof name}; not stored` });
  }

  const email = traits.email;
  if (typeof email === 'string') {
    if (email.trim() !== '') {
      const normalized = normalizeEmail(email);
      if (normalized) fields.email = { value: email.trim(), normalized };
      else fields.problems.push({ kind: 'invalid_email', detail: `email ${quote(email)} is not an email address; not stored` });
    }
  } else if (email !== undefined && email !== null) {
    fields.problems.push({ kind: 'invalid_email', detail: `email must be a string, got ${typeof email}; not stored` });
  }

  // The seed doc's example writes `billingId`, its field table `billingUserId`: accept both, the latter
  // wins unless it is empty (a blank mapping in Segment), which must not hide a billingId sent beside it.
  const given = traits.billingUserId;
  const spelling = given !== undefined && given !== null && !(typeof given === 'string' && given.trim() === '') ? 'billingUserId' : 'billingId';
  const billing = traits[spelling];
  if (typeof billing === 'string') {
    const id = billing.trim();
    const provider = billingProviderOf(id);
    if (provider) fields.billing = { id, provider };
    else if (id !== '') {
      fields.problems.push({
        kind: 'invalid_billing_id',
        detail: `${spelling} ${quote(billing)} is neither a Stripe customer id (${STRIPE_ID_RULE}) nor a Chargebee customer id (${CHARGEBEE_ID_RULE}); not stored`,
      });
    }
  } else if (billing !== undefined && billing !== null) {
    fields.problems.push({ kind: 'invalid_billing_id', detail: `${spelling} must be a string, got ${typeof billing}; not stored` });
  }
  return fields;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
