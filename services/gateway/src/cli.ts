import { parseArgs } from 'node:util';
import { ConfigError, createPool, migrate } from '@kana/platform';
import { PgAccounts } from './adapters/pg-accounts';
import { MIGRATIONS_DIR } from './app';
import { readCliConfig } from './config';

const USAGE = `usage:
  kana accounts create --name <name> [--json]     new account and its first API key
  kana accounts demo [--json]                     the demo account (created if missing) with a new key
  kana keys create --account <accountId> [--json] another API key for an account
  kana keys revoke --key <apiKey> [--json]        stop a key from working (within seconds)
API keys are shown once: only their hash is stored.
Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/kana), DATABASE_SCHEMA (default gateway).`;

class UsageError extends Error {}

/** Each command, and the option that carries its value. */
const OPTION_OF = { 'accounts create': '--name <name>', 'accounts demo': undefined, 'keys create': '--account <accountId>', 'keys revoke': '--key <apiKey>' } as const;
type Command = keyof typeof OPTION_OF;

async function run(argv: string[]): Promise<Record<string, string>> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, account: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  const command = positionals.slice(0, 2).join(' ');
  if (values.help || !(command in OPTION_OF)) throw new UsageError(positionals.length > 0 ? `unknown command '${positionals.join(' ')}'` : 'no command');
  if (positionals.length > 2) {
    // `kana keys revoke kana_live_…`: the value belongs to an option. Not echoed: it may be a key.
    const option = OPTION_OF[command as Command];
    throw new UsageError(`'kana ${command}' takes no bare argument${option ? `: pass it as ${option}` : ''}`);
  }

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

const json = process.argv.includes('--json');
run(process.argv.slice(2)).then(
  (result) => {
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      for (const [name, value] of Object.entries(result)) process.stdout.write(`${name}: ${value}\n`);
      if (result.apiKey) process.stdout.write('Store this API key now: it cannot be shown again.\n');
    }
  },
  (error: unknown) => {
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`kana: ${message}\n`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`${USAGE}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
