import { ConfigError, createLogger, runMain } from '@kana/platform';
import { build } from './app';
import { readConfig, type RulesConfig } from './config';

let config: RulesConfig;
try {
  config = readConfig();
} catch (error) {
  // Every bad variable at once, without a stack trace.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`rules: ${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ name: 'rules', level: config.LOG_LEVEL });
void runMain(logger, async () => build(config, { logger }).lifecycle);
