import { z } from 'zod';

/** `limit` defaults to 50; more than 1000 is capped (API.md), nonsense is a 400 naming the field. */
export const limitParam = z.coerce
  .number()
  .int()
  .min(1)
  .default(50)
  .transform((value) => Math.min(value, 1000));

export const listQuery = z.object({ limit: limitParam, cursor: z.string().max(2000).optional() });
