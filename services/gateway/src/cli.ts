import { parseArgs } from 'node:util';
import { ConfigError, createKafka, createLogger, createPool, migrate } from '@kana/platform';
import { topicNames } from '@kana/schemas';
import { PgAccounts } from './adapters/pg-accounts';
import { MIGRATIONS_DIR } from './app';
import { readCliConfig, readDeadLettersConfig } from './config';
import { type DeadLetter, readDeadLetters, replayDeadLetters } from './dead-letters';

const USAGE = `usage:
  kana accounts create --name <name> [--json]     new account and its first API key
  kana accounts demo [--json]                     the demo account (created if missing) with a new key
  kana keys create --account <accountId> [--json] another API key for an account
  kana keys revoke --key <apiKey> [--json]        stop a key from working (within seconds)
  kana dead-letters list [--limit <n>] [--json]   messages a service gave up on (oldest first, default 100)
  kana dead-letters replay [--json]               after a fix: send those not yet replayed back to their topic
API keys are shown once: only their hash is stored.
Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/kana), DATABASE_SCHEMA (default gateway);
for dead-letters KAFKA_BROKERS (default 127.0.0.1:9092) and TOPIC_PREFIX.`;

class UsageError extends Error {}

/** Each command, and the option that carries its value. */
const OPTION_OF = { 'accounts create': '--name <name>', 'accounts demo': undefined, 'keys create': '--account <accountId>', 'keys revoke': '--key <apiKey>', 'dead-letters list': '--limit <n>', 'dead-letters replay': undefined } as const;
type Command = keyof typeof OPTION_OF;

/** What a command printed: its --json value, and its lines for a person. */
type Output = { json: unknown; lines: string[] };

async function run(argv: string[]): Promise<Output> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, account: { type: 'string' }, key: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) return { json: { usage: USAGE }, lines: [USAGE] };
  const command = positionals.slice(0, 2).join(' ');
  if (!(command in OPTION_OF)) throw new UsageError(positionals.length > 0 ? `unknown command '${positionals.join(' ')}'` : 'no command');
  if (positionals.length > 2) {
    // `kana keys revoke kana_live_…`: the value belongs to an option. Not echoed: it may be a key.
    const option = OPTION_OF[command as Command];
    throw new UsageError(`'kana ${command}' takes no bare argument${option ? `: pass it as ${option}` : ''}`);
  }

  if (command === 'dead-letters list') return deadLetters(values.limit);
  if (command === 'dead-letters replay') return replay();
  const result = await accountsCommand(command, values);
  const lines = Object.entries(result).map(([name, value]) => `${name}: ${value}`);
  if (result.apiKey) lines.push('Store this API key now: it cannot be shown again.');
  return { json: result, lines };
}

async function accountsCommand(command: string, values: { name?: string; account?: string; key?: string }): Promise<Record<string, string>> {
  const config = readCliConfig();
  const pool = createPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: 2 });
  try {
    await migrate(pool, { schema: config.DATABASE_SCHEMA, dir: MIGRATIONS_DIR });
    const accounts = new PgAccounts(pool);
    switch (command) {
      case 'accounts create': {
        const name = values.name?.trim();
        if (!name) throw new UsageError('--name is required');
        return { ...(await accounts.createAccount(name)) };
      }
      case 'accounts demo':
        return { ...(await accounts.demoAccount()) };
      case 'keys create': {
        if (!values.account) throw new UsageError('--account is required');
        const created = await accounts.createKey(values.account);
        if (!created) throw new Error(`no account '${values.account}'`);
        return { ...created };
      }
      default: {
        if (!values.key) throw new UsageError('--key is required');
        const revoked = await accounts.revokeKey(values.key);
        if (!revoked) throw new Error('no such API key');
        return { ...revoked };
      }
    }
  } finally {
    await pool.end();
  }
}

/** The DLQ topic and a client for it, from KAFKA_BROKERS and TOPIC_PREFIX. */
function deadLetterQueue() {
  const config = readDeadLettersConfig();
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kana-cli', logger: createLogger({ name: 'kana', level: 'silent' }) });
  return { kafka, topic: topicNames(config.TOPIC_PREFIX).dlq };
}

async function replay(): Promise<Output> {
  const { kafka, topic } = deadLetterQueue();
  const outcome = await replayDeadLetters(kafka, topic);
  const total = Object.values(outcome.replayed).reduce((sum, n) => sum + n, 0);
  const lines = [
    ...Object.entries(outcome.replayed).map(([source, n]) => `${source}: ${n} replayed`),
    ...(outcome.skipped > 0 ? [`${outcome.skipped} without a source topic, left on ${topic}`] : []),
    total === 0 && outcome.skipped === 0 ? `nothing to replay on ${topic}` : `${total} dead letter(s) sent back to their topics; the services count each event once`,
  ];
  return { json: { topic, ...outcome }, lines };
}

async function deadLetters(limitText: string | undefined): Promise<Output> {
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number of at least 1');
  const { kafka, topic } = deadLetterQueue();
  const letters = await readDeadLetters(kafka, topic, { limit });
  const describe = (letter: DeadLetter) =>
    `${letter.at}  ${letter.sourceTopic}[${letter.sourcePartition}]@${letter.sourceOffset}  ${[letter.accountId, letter.type, letter.messageId && `messageId ${letter.messageId}`].filter(Boolean).join('  ') || `key ${letter.key}`}\n  ${letter.error}`;
  return { json: { topic, deadLetters: letters }, lines: letters.length === 0 ? [`no dead letters on ${topic}`] : [...letters.map(describe), `${letters.length} dead letter(s) on ${topic}, oldest first`] };
}

const json = process.argv.includes('--json');
run(process.argv.slice(2)).then(
  (output) => process.stdout.write(json ? `${JSON.stringify(output.json)}\n` : `${output.lines.join('\n')}\n`),
  (error: unknown) => {
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`kana: ${message}\n`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`${USAGE}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
