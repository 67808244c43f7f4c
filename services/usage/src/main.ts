import { ConfigError, createLogger, runMain } from '@kana/platform';
import { readConfig, type UsageConfig } from './config';
import { buildUsage } from './app';

let config: UsageConfig;
try {
  config = readConfig();
} catch (error) {
  // Every bad variable at once, readable, no stack trace.
  process.stderr.write(`usage: ${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}
const logger = createLogger({ name: 'usage', level: config.LOG_LEVEL });
void runMain(logger, async () => buildUsage(config, { logger }).lifecycle);
