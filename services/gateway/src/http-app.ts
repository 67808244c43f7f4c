import { createHttpServer, type FastifyInstance, type Logger, type Registry } from '@kana/platform';
import { authenticate } from './auth/authenticate';
import type { KeyCache } from './auth/key-cache';
import { gatewayMetrics } from './metrics';
import { openApiDocument } from './openapi/document';
import type { EventSink } from './ports';
import { adminProxyRoutes, type AdminProxyConfig } from './routes/admin-proxy';
import { dashboardRoutes } from './routes/dashboard';
import { Ingest, unsupportedCallRoutes } from './routes/ingest';
import { ingestListener } from './routes/ingest-listener';

export const MAX_REQUEST_BYTES = 500 * 1024;

export interface HttpAppConfig {
  admin: AdminProxyConfig;
}

export interface HttpAppDeps {
  logger: Logger;
  metrics: Registry;
  keys: KeyCache;
  sink: EventSink;
  ready: () => boolean | Promise<boolean>;
  now?: () => Date;
}

/** The gateway's HTTP surface, without listening: app.ts starts it, unit tests use inject(). */
export function buildHttpApp(config: HttpAppConfig, deps: HttpAppDeps): FastifyInstance {
  const metrics = gatewayMetrics(deps.metrics);
  const ingest = new Ingest({ sink: deps.sink, metrics, ...(deps.now ? { now: deps.now } : {}) });
  let closing = false;
  const intercept = ingestListener({ ingest, keys: deps.keys, metrics, logger: deps.logger, bodyLimit: MAX_REQUEST_BYTES, closing: () => closing });
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, ready: deps.ready, bodyLimit: MAX_REQUEST_BYTES, intercept });
  app.decorateRequest('accountId', '');
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL: ids in admin paths would explode the series count.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    done();
  });

  const document = openApiDocument();
  app.get('/openapi.json', async () => document);
  dashboardRoutes(app);

  void app.register(async (v1) => {
    v1.addHook('onRequest', authenticate(deps.keys));
    // POST /v1/segment|identify|track|batch never reach fastify: ingestListener serves them.
    void v1.register(unsupportedCallRoutes);
    void v1.register(adminProxyRoutes, config.admin);
  });
  return app;
}
