import { ConfigError, createLogger, runMain } from '@kana/platform';
import { buildIdentity } from './app';
import { loadIdentityConfig, type IdentityConfig } from './config';

let config: IdentityConfig;
try {
  config = loadIdentityConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`identity: ${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ name: 'identity', level: config.LOG_LEVEL });
void runMain(logger, async () => buildIdentity(config, { logger }).lifecycle);
