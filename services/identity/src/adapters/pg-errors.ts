import { AppError, UnavailableError, isTransientInfrastructureError } from '@kana/platform';

// A retry of the same transaction cures the database being away, deadlocks and the like
// (platform's one classification, shared by every service), and a lost race between
// instances: another one created the user first (23505), and the retry sees its row.
const LOST_RACE = '23505';

export function wrapPgError(doing: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = (error as Error).message ?? String(error);
  if ((error as { code?: unknown }).code === LOST_RACE || isTransientInfrastructureError(error)) return new UnavailableError(`${doing}: ${message}`, error);
  return new AppError(`${doing}: ${message}`, { code: 'KANA_IDENTITY_DB', cause: error });
}

/** Raised inside a transaction when another instance won a race; the batch is retried and then sees its rows. */
export function lostRace(what: string): UnavailableError {
  return new UnavailableError(`concurrent writer: ${what}; retrying`);
}
