import { AppError, UnavailableError } from '@kana/platform';

// Postgres errors that go away by themselves (connection lost, deadlock,
// serialisation failure, server shutting down, out of resources) must make a
// consumer retry its batch; the others point at the data and let the batch
// runner isolate the message (DLQ) instead of blocking the partition forever.
const TRANSIENT_CLASSES = ['08', '40', '53', '57', '58'];
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

export function isTransientDbError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return /timeout|terminated|Connection/i.test(String((error as Error)?.message));
  return TRANSIENT_NODE_CODES.has(code) || TRANSIENT_CLASSES.includes(code.slice(0, 2)) || code === '55P03';
}

/** Wraps what we were doing; the error class tells the batch runner whether to retry. */
export function dbError(doing: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  return isTransientDbError(error) ? new UnavailableError(`${doing}: ${(error as Error).message}`, error) : new AppError(`${doing}: ${(error as Error).message}`, { cause: error });
}
