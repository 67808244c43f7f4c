import { waitFor } from '@kana/platform/testing';
import { aTrack, anIdentify, totalOf, type AdminClient, type SegmentClient, type SystemUnderTest } from './harness';

// Two accounts with the same kinds of data, deliberately sharing names (feature
// ids, userIds, event names, emails, Stripe ids) so that a query missing its
// account scope would return or change the other account's rows.

export interface Tenant {
  accountId: string;
  apiKey: string;
  seg: SegmentClient;
  dash: AdminClient;
  /** Kana ids of the users by userId ('import' is the Stripe import without userId). */
  users: Record<string, string>;
  ruleId: string;
  jobIds: string[];
  /** messageIds of the tenant's 'Shared Event' tracks (unmapped in both accounts). */
  unmapped: string[];
  /** messageIds that produced usage records. */
  counted: string[];
}

const wait = { timeoutMs: 60_000 };

async function body(pending: Promise<{ status: number; body: any }>, status = 200): Promise<any> {
  const reply = await pending;
  if (reply.status !== status) throw new Error(`expected ${status}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/**
 * Seeds one account: users (one shared userId, two sharing an email, one
 * without billing id, one Stripe import), features 'messages' and '<own>',
 * a rule on 'Seat Added', usage from a featureId and from the rule, and
 * unmapped 'Shared Event' tracks; waits until all of it is visible.
 */
export async function seedTenant(system: SystemUnderTest, label: 'a' | 'b', scale: number): Promise<Tenant> {
  const { accountId, apiKey } = await system.createAccount(`tenant-${label}`);
  const seg = system.segment(apiKey);
  const dash = system.admin(apiKey);
  await body(dash.post('/v1/features', { id: 'messages', name: `Messages of ${label}` }), 201);
  await body(dash.post('/v1/features', { id: `only-${label}`, name: `Only ${label}` }), 201);
  const rule = await body(dash.post('/v1/rules', { featureId: `only-${label}`, eventName: 'Seat Added', conditions: [] }), 201);
  const imported = await body(dash.post('/v1/users/import', { customers: [{ id: 'cus_SharedStripe01', email: `import@${label}.example`, name: `Import ${label}` }] }));
  if (imported.imported !== 1) throw new Error(`import of ${label}: ${JSON.stringify(imported)}`);

  const identifies = [
    anIdentify({ userId: 'shared-user', traits: { email: `shared@${label}.example`, name: `Shared ${label}`, billingUserId: 'cus_Lp1bSKob4laHDD' } }),
    anIdentify({ userId: `${label}-team-1`, traits: { email: 'team@example.com', name: `Team 1 ${label}` } }),
    anIdentify({ userId: `${label}-team-2`, traits: { email: 'team@example.com', name: `Team 2 ${label}` } }),
  ];
  for (const event of identifies) await body(seg.identify(event));
  const counted = [
    aTrack({ userId: 'shared-user', properties: { featureId: 'messages', delta: scale } }),
    aTrack({ userId: `${label}-team-1`, event: 'Seat Added', properties: { delta: scale } }),
  ];
  const unmappedEvents = [aTrack({ userId: 'shared-user', event: 'Shared Event' }), aTrack({ userId: `${label}-team-2`, event: 'Shared Event' })];
  for (const event of [...counted, ...unmappedEvents]) await body(seg.track(event));

  const users = await waitFor(async () => {
    const { data } = await body(dash.get('/v1/users?limit=1000'));
    return data.length === 4 && Object.fromEntries(data.map((user: any) => [user.userId ?? 'import', user.id]));
  }, { ...wait, what: `4 users of ${label}` });
  await waitFor(async () => totalOf(await dash.get('/v1/usage')) === 2 * scale, { ...wait, what: `usage of ${label}` });
  await waitFor(async () => (await body(dash.get('/v1/events/unmapped'))).data.length === 2, { ...wait, what: `2 unmapped events of ${label}` });
  const jobs = await waitFor(async () => {
    const { data } = await body(dash.get('/v1/reprocess-jobs'));
    return data.length === 3 && data.every((job: any) => job.status !== 'running') && data;
  }, { ...wait, what: `3 finished jobs of ${label}` });
  return {
    accountId,
    apiKey,
    seg,
    dash,
    users,
    ruleId: rule.id,
    jobIds: jobs.map((job: any) => job.id),
    unmapped: unmappedEvents.map((event) => event.messageId as string),
    counted: counted.map((event) => event.messageId as string),
  };
}

/** Everything an account's dashboard shows; equal before and after means nothing of it changed. */
export async function snapshotOf(dash: AdminClient): Promise<Record<string, unknown>> {
  const paths = ['/v1/users?limit=1000', '/v1/users/attention', '/v1/features', '/v1/rules', '/v1/events/unmapped?limit=1000', '/v1/reprocess-jobs', '/v1/usage', '/v1/usage/records?limit=1000'];
  const entries = await Promise.all(paths.map(async (path) => [path, await body(dash.get(path))] as const));
  return Object.fromEntries(entries);
}

/** Every id and messageId in a JSON answer, to check a list holds none of the other account's. */
export function idsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((item) => idsIn(item, found));
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if ((key === 'id' || key === 'messageId') && typeof inner === 'string') found.add(inner);
      else idsIn(inner, found);
    }
  }
  return found;
}
