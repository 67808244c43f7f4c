import { z } from 'zod';
import { decodeCursor, encodeCursor } from '@kana/platform';
import { billingProviderOf, MAX_NAME_LENGTH, normalizeEmail } from '../domain/traits';

// Request shapes of the users admin API (API.md). Messages name what is wrong
// in words an account admin can act on.

export const MAX_IMPORT_CUSTOMERS = 10_000;

export const listQuery = z.object({
  userId: z.string().min(1).optional(),
  email: z.string().min(1).optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000, 'is capped at 1000').default(50),
  cursor: z.string().min(1).optional(),
});

export const idParams = z.object({ id: z.string() });

export const mergeBody = z.object({ intoId: z.string({ error: 'is required: the id of the user to merge into' }).min(1) });

const customer = z.object({
  id: z.string({ error: 'is required' }).refine((id) => billingProviderOf(id) === 'stripe', 'must be a Stripe customer id (cus_…)'),
  email: z
    .string()
    .nullish()
    .refine((email) => !email?.trim() || normalizeEmail(email) !== undefined, 'is not an email address'),
  name: z.string().max(MAX_NAME_LENGTH).nullish(),
});

export const importBody = z.object({
  customers: z.array(customer, { error: 'must be an array of { id, email, name }' }).min(1, 'must not be empty').max(MAX_IMPORT_CUSTOMERS, `holds at most ${MAX_IMPORT_CUSTOMERS} customers per request`),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUserId(id: string): boolean {
  return UUID.test(id);
}

/** Opaque cursor (see decodeCursor in platform): the last id of the page, so pages stay stable while users are added. */
export function encodeUserCursor(lastId: string): string {
  return encodeCursor({ after: lastId });
}

/** The id a cursor continues after; a malformed cursor is a 400 naming the field. */
export function decodeUserCursor(cursor: string): string {
  return decodeCursor(cursor, (value) => {
    const after = (value as { after?: unknown } | null)?.after;
    return typeof after === 'string' && isUserId(after) ? after : undefined;
  });
}
