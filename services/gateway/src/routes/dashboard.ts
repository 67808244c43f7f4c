import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from '@kana/platform';

/** Where the page's files are: services/gateway/dashboard, beside dist/ (the image copies it there too). */
export const DASHBOARD_DIR = join(__dirname, '..', '..', 'dashboard');

const FILES = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/dashboard.js', file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  { route: '/dashboard.css', file: 'dashboard.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * The page may load only its own script and style and talk only to this origin (the admin API);
 * no inline script, no frames, no forms posted elsewhere. The API key typed into it goes nowhere
 * but the Authorization header of its own requests.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * The dashboard (DESIGN's `/`): a static page that reads the account's views through the admin
 * API with the key the user types (usage totals, users needing attention, unmapped events,
 * features, rules, reprocess jobs); adds features and previewed rules, merges users that share
 * an email and imports a Stripe customer export. Served without
 * authentication: it holds no data, the API calls it makes are authenticated like any other.
 * Files are read once, at start.
 */
export function dashboardRoutes(app: FastifyInstance, dir = DASHBOARD_DIR): void {
  for (const { route, file, type } of FILES) {
    const body = readFileSync(join(dir, file));
    app.get(route, async (_request, reply) => reply.headers({ ...HEADERS, 'content-type': type }).send(body));
  }
}
