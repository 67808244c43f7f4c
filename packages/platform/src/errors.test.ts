import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError } from 'kafkajs';
import { DatabaseError } from 'pg';
import { z } from 'zod';
import { AppError, UnavailableError, isRetriable } from './errors';

const pgError = (code: string, message: string) => Object.assign(new DatabaseError(message, 0, 'error'), { code });
// kafkajs builds these from a broker error code entry; its types only admit an Error or a string.
const protocolError = (entry: { message: string; type: string; code: number; retriable: boolean }) =>
  new KafkaJSProtocolError(entry as unknown as Error);
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, syscall: 'connect' });

// What each client raises while its server restarts must be retried by a consumer, never
// dead-lettered: the event is fine, the dependency is away. Bad data and bugs are not retried.
describe('isRetriable', () => {
  it.each<[string, unknown]>([
    ['our own UnavailableError', new UnavailableError('Kafka did not acknowledge')],
    ['Postgres refusing connections (pg-pool)', socketError('ECONNREFUSED')],
    ['a dropped connection', socketError('ECONNRESET')],
    ['node-postgres losing its connection mid-query', new Error('Connection terminated unexpectedly')],
    ['pg-pool waiting for a connection too long', new Error('timeout exceeded when trying to connect')],
    ['Postgres shutting down (57P01)', pgError('57P01', 'terminating connection due to administrator command')],
    ['Postgres starting up (57P03)', pgError('57P03', 'the database system is starting up')],
    ['a connection exception (08006)', pgError('08006', 'connection failure')],
    ['too many connections (53300)', pgError('53300', 'sorry, too many clients already')],
    ['a deadlock (40P01)', pgError('40P01', 'deadlock detected')],
    ['a serialization failure (40001)', pgError('40001', 'could not serialize access')],
    ['a statement timeout (57014)', pgError('57014', 'canceling statement due to statement timeout')],
    ['an I/O error of the server (58030)', pgError('58030', 'could not write to file')],
    ["node-postgres's query_timeout", new Error('Query read timeout')],
    ['ioredis with its connection closed', new Error('Connection is closed.')],
    ['ioredis giving up on a command', Object.assign(new Error('Reached the max retries per request limit (which is 3).'), { name: 'MaxRetriesPerRequestError' })],
    ['kafkajs failing to connect', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED')],
    ['kafkajs request timeout', new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')],
    ['kafkajs out of retries', new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('down'), { retryCount: 5, retryTime: 100 })],
    ['a retriable Kafka protocol error', protocolError({ message: 'NOT_LEADER', type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true })],
    ['a wrapped transient error', new Error('writing the batch failed', { cause: socketError('ECONNREFUSED') })],
  ])('retries %s', (_, error) => {
    expect(isRetriable(error)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['a non-retriable AppError, even with a transient cause', new AppError('bad event', { cause: socketError('ECONNREFUSED') })],
    ['a NOT NULL violation (23502)', pgError('23502', 'null value in column "user_id" violates not-null constraint')],
    ['invalid input for a column (22P02)', pgError('22P02', 'invalid input syntax for type uuid')],
    ['a check violation (23514)', pgError('23514', 'new row violates check constraint')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'userId')")],
    ['a validation error', z.object({ userId: z.string() }).safeParse({}).error],
    ['kafkajs refusing for good', new KafkaJSNonRetriableError('Invalid topic')],
    ['a non-retriable Kafka protocol error', protocolError({ message: 'too large', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false })],
    ['not an error at all', 'boom'],
    ['nothing', undefined],
  ])('does not retry %s', (_, error) => {
    expect(isRetriable(error)).toBe(false);
  });
});
