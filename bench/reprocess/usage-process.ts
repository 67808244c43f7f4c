// The usage instance of the reprocess benchmark in its own process, as in production: rules and usage each
// get a Node.js thread (in one process they shared one, and the replay, which keeps both busy, paid for it).
// Tells the parent over IPC when it started and when it handled its first live batch.
import { join } from 'node:path';
import { createLogger, runMain } from '@kana/platform';

type UsageApp = typeof import('../../services/usage/dist/app');
type UsageConfig = typeof import('../../services/usage/dist/config');
const usageDist = process.env.USAGE_DIST ?? join(__dirname, '..', '..', '..', 'services', 'usage', 'dist');
const { buildUsage } = require(join(usageDist, 'app')) as UsageApp;
const { readConfig } = require(join(usageDist, 'config')) as UsageConfig;

const config = readConfig();
const logger = createLogger({ name: 'usage', level: config.LOG_LEVEL });
let firstLive = true;
let usage: ReturnType<typeof buildUsage> | undefined;
void runMain(logger, async () => {
  usage = buildUsage(config, {
    logger,
    interceptBatch: (topic, messages, handle) => {
      if (topic === 'track' && firstLive) {
        firstLive = false;
        process.send?.({ firstLiveBatchAt: Date.now() });
      }
      return handle();
    },
  });
  return usage.lifecycle;
}).then(() => {
  const address = usage?.http.server.address();
  process.send?.({ started: true, port: typeof address === 'object' && address ? address.port : 0 });
});
