import { AppError, UnavailableError } from '@kana/platform';

// Postgres errors that a retry of the same transaction can cure: lost races
// between instances (another one created the user or processed the message
// first; the retry sees its row), deadlocks, and the database being away.
const RETRIABLE_SQLSTATES = new Set(['23505', '40001', '40P01', '55P03', '57P01', '57P02', '57P03', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

export function wrapPgError(doing: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (RETRIABLE_SQLSTATES.has(code) || code.startsWith('08') || NETWORK_CODES.has(code) || /Connection terminated|timeout exceeded when trying to connect/i.test(message)) {
    return new UnavailableError(`${doing}: ${message}`, error);
  }
  return new AppError(`${doing}: ${message}`, { code: 'KANA_IDENTITY_DB', cause: error });
}

/** Raised inside a transaction when another instance won a race; the batch is retried and then sees its rows. */
export function lostRace(what: string): UnavailableError {
  return new UnavailableError(`concurrent writer: ${what}; retrying`);
}
