import { AppError, UnavailableError, isTransientInfrastructureError } from '@kana/platform';

// Postgres errors that go away by themselves (connection lost, deadlock, serialisation failure,
// server shutting down, out of resources) must make a consumer retry its batch; the others point
// at the data and let the batch runner isolate the message (DLQ) instead of blocking the partition
// forever. Which is which is platform's one classification, shared by every service.
export const isTransientDbError = isTransientInfrastructureError;

/** Wraps what we were doing; the error class tells the batch runner whether to retry. */
export function dbError(doing: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  return isTransientDbError(error) ? new UnavailableError(`${doing}: ${(error as Error).message}`, error) : new AppError(`${doing}: ${(error as Error).message}`, { cause: error });
}
