import { parseOr400, type FastifyInstance } from '@kana/platform';
import { z } from 'zod';
import type { SnapshotPublisher } from '../snapshots';

/**
 * Usage's cache miss: the current snapshot from Postgres, written back to
 * Redis with compare-and-set on the way (never over a newer one). Never
 * forwarded by the gateway.
 */
export function internalRoutes(app: FastifyInstance, deps: { snapshots: SnapshotPublisher }): void {
  app.get('/internal/accounts/:accountId/rules-snapshot', async (request) => {
    const { accountId } = parseOr400(z.object({ accountId: z.string().min(1).max(256) }), request.params, 'path');
    return deps.snapshots.publish(accountId);
  });
}
