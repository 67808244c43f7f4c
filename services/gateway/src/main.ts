import { ConfigError, createLogger, runMain } from '@kana/platform';
import { build } from './app';
import { readConfig, type GatewayConfig } from './config';

let config: GatewayConfig;
try {
  config = readConfig();
} catch (error) {
  // Every bad variable at once, without a stack trace.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`gateway: ${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL });
void runMain(logger, async () => build(config, { logger }).lifecycle);
