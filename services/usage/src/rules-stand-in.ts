import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rulesSnapshotKey, snapshotJson, type RulesSnapshot } from '@kana/schemas';
import type { Redis } from '@kana/platform';

/**
 * Tests and the benchmark only: a real HTTP server answering the rules
 * service's internal snapshot endpoint the way the rules service does
 * (the snapshot, version 0 for an unknown account, Redis reseeded), with a
 * switch to make it unavailable.
 */
export class RulesStandIn {
  readonly snapshots = new Map<string, RulesSnapshot>();
  requests = 0;
  down = false;
  private server: Server | undefined;

  constructor(private readonly redis: Redis) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.requests++;
      const match = /^\/internal\/accounts\/([^/]+)\/rules-snapshot$/.exec(request.url ?? '');
      if (this.down || !match) {
        response.writeHead(this.down ? 503 : 404, { 'content-type': 'application/json' }).end('{"message":"unavailable"}');
        return;
      }
      const accountId = decodeURIComponent(match[1]!);
      const snapshot = this.snapshots.get(accountId) ?? { accountId, version: 0, features: [], rules: [] };
      void this.redis.set(rulesSnapshotKey(accountId), snapshotJson(snapshot)).then(() => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
