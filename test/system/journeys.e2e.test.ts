import { JSDOM } from 'jsdom';
import { waitFor } from '@kana/platform/testing';
import { aTrack, anIdentify, SystemUnderTest, totalOf, type AdminClient, type SegmentClient } from './harness';

// The user journeys of the product, end to end: the four services as separate
// processes, and the test only speaks HTTP to the gateway, as Segment (ingest)
// and a dashboard user (admin API) would. Each test has its own account.

let system: SystemUnderTest;

beforeAll(async () => {
  system = await SystemUnderTest.start();
});
afterAll(async () => {
  await system?.stop();
  await system?.cleanup();
});

async function newAccount(): Promise<{ apiKey: string; seg: SegmentClient; dash: AdminClient }> {
  const { apiKey } = await system.createAccount();
  return { apiKey, seg: system.segment(apiKey), dash: system.admin(apiKey) };
}

const ok = async (pending: Promise<{ status: number; body: unknown }>, status = 200) => {
  const reply = await pending;
  expect([reply.status, reply.body]).toEqual([status, expect.anything()]);
  return reply.body as any;
};

async function usageTotal(dash: AdminClient, query: string): Promise<number> {
  return totalOf(await dash.get(`/v1/usage?${query}`));
}

async function waitForTotal(dash: AdminClient, query: string, expected: number): Promise<void> {
  await waitFor(async () => (await usageTotal(dash, query)) === expected, { timeoutMs: 60_000, what: `usage ${query} = ${expected}` });
}

async function usersWith(dash: AdminClient, query: string): Promise<any[]> {
  return (await ok(dash.get(`/v1/users?${query}`))).data;
}

async function waitForUser(dash: AdminClient, userId: string): Promise<any> {
  const [user] = await waitFor(async () => {
    const users = await usersWith(dash, `userId=${encodeURIComponent(userId)}`);
    return users.length === 1 && users;
  }, { timeoutMs: 60_000, what: `user ${userId} listed` });
  return user;
}

/** The dashboard as a browser loads it from the gateway: its HTML, then its script from /dashboard.js. */
async function openDashboard() {
  const page = await JSDOM.fromURL(`${system.gatewayUrl}/`, {
    runScripts: 'dangerously',
    resources: 'usable',
    beforeParse: (window) => {
      // jsdom has no fetch of its own: the browser's, relative to the page. The user answers yes to every confirm().
      window.fetch = (path: string, init?: RequestInit) => fetch(new URL(path, system.gatewayUrl), init);
      window.confirm = () => true;
    },
  });
  const { window } = page;
  const { document } = window;
  await waitFor(async () => document.readyState === 'complete', { timeoutMs: 10_000, what: 'the page loaded' });
  const submit = (formId: string) => document.getElementById(formId).dispatchEvent(new window.Event('submit', { cancelable: true }));
  const fill = (formId: string, values: Record<string, string>) => {
    for (const [name, value] of Object.entries(values)) document.getElementById(formId).elements.namedItem(name).value = value;
  };
  return {
    document,
    text: (id: string): string => document.getElementById(id).textContent ?? '',
    rows: (id: string): (string | null)[][] =>
      [...document.querySelectorAll(`#${id} tbody tr`)].map((row: any) => [...row.querySelectorAll('td')].map((cell: any) => cell.textContent)),
    window,
    fill,
    submit,
    signIn: async (key: string) => {
      fill('sign-in', { 'api-key': key });
      submit('sign-in');
    },
    /** Until each view shows something (a table, or a line saying there is nothing). */
    viewsLoaded: async () => {
      const views = [...document.querySelectorAll('main section .view')];
      await waitFor(async () => views.length === 6 && views.every((view: any) => view.children.length > 0), { timeoutMs: 10_000, what: 'every view loaded' });
    },
    close: () => window.close(),
  };
}

describe('journeys through the whole system', () => {
  it('the dashboard at / shows the account its usage, users without a billing id and unmapped events', async () => {
    const { apiKey, seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'messages', name: 'Messages' }), 201);
    await ok(seg.identify(anIdentify({ userId: 'dee', traits: { email: 'dee@example.com', name: 'Dee' } })));
    await ok(seg.track(aTrack({ userId: 'dee', properties: { featureId: 'messages', delta: 2 } })));
    await ok(seg.track(aTrack({ userId: 'dee', event: 'Seat Added', properties: { seats: 1 } })));
    await waitForTotal(dash, 'userId=dee&featureId=messages', 2);
    await waitForUser(dash, 'dee');
    await waitFor(async () => (await ok(dash.get('/v1/events/unmapped'))).data.length === 1, { timeoutMs: 60_000, what: 'the unmapped Seat Added' });

    const page = await openDashboard();
    try {
      await page.signIn('kana_live_not-a-key');
      await waitFor(async () => page.text('error').includes('unknown or revoked API key'), { timeoutMs: 10_000, what: 'the refusal shown' });
      expect(page.document.getElementById('views').hidden).toBe(true);

      await page.signIn(apiKey);
      await page.viewsLoaded();
      expect([page.document.getElementById('error').hidden, page.document.getElementById('views').hidden]).toEqual([true, false]);
      expect(page.rows('usage')).toEqual([['dee', 'messages', '2']]);
      expect(page.rows('attention')).toEqual([['dee', 'dee@example.com', 'Dee', expect.any(String)]]);
      expect(page.rows('unmapped')).toEqual([['Seat Added', 'dee', 'no rule matches', expect.any(String), '{"seats":1}', expect.any(String), 'Map…']]);
      expect(page.rows('features')).toEqual([['messages', 'Messages', expect.any(String)]]);
      expect(page.text('rules')).toContain('No mapping rules yet.');
      // Creating the feature started a reprocess job (a new feature id can map stored events).
      expect(page.rows('jobs')).toEqual([[expect.any(String), expect.any(String), expect.stringMatching(/^\d+ of \d+$/), expect.stringMatching(/^\d+$/)]]);
      // The key stays in the tab, out of the page's markup.
      expect(page.document.documentElement.outerHTML).not.toContain(apiKey);
    } finally {
      page.close();
    }
  });

  it('from the dashboard: a feature and a previewed rule count the unmapped event, and a bad rule is refused by name', async () => {
    const { apiKey, seg, dash } = await newAccount();
    await ok(seg.track(aTrack({ userId: 'eve', event: 'Seat Added', properties: { seats: 3, delta: 3 } })));
    await waitFor(async () => (await ok(dash.get('/v1/events/unmapped'))).data.length === 1, { timeoutMs: 60_000, what: 'the unmapped Seat Added' });

    const page = await openDashboard();
    try {
      await page.signIn(apiKey);
      await page.viewsLoaded();
      page.fill('feature-form', { id: 'seats', name: 'Seats' });
      page.submit('feature-form');
      await waitFor(async () => page.rows('features').length === 1, { timeoutMs: 10_000, what: 'the feature listed' });
      expect(page.rows('features')).toEqual([['seats', 'Seats', expect.any(String)]]);

      // The unmapped event's Map… button starts the rule with its name.
      page.document.querySelector('#unmapped tbody button').click();
      expect(page.document.getElementById('rule-form').elements.namedItem('eventName').value).toBe('Seat Added');
      page.fill('rule-form', { featureId: 'seats', property: 'seats', operator: 'gt', value: 'many' });
      page.submit('rule-form');
      await waitFor(async () => !page.document.getElementById('error').hidden, { timeoutMs: 10_000, what: 'the refusal shown' });
      expect(page.text('error')).toMatch(/conditions\.0\.value/);

      page.fill('rule-form', { value: '2' });
      page.document.getElementById('rule-preview').click();
      await waitFor(async () => page.text('rule-result') !== '', { timeoutMs: 10_000, what: 'the preview' });
      expect(page.text('rule-result')).toBe('1 stored unmapped event would be counted for seats.');

      page.submit('rule-form');
      await waitFor(async () => page.text('rule-result').startsWith('Rule created'), { timeoutMs: 10_000, what: 'the rule created' });
      await waitFor(async () => page.rows('rules').length === 1, { timeoutMs: 10_000, what: 'the rule listed' });
      expect(page.rows('rules')).toEqual([['seats', 'Seat Added', 'seats gt 2', 'yes', expect.any(String)]]);

      // Counted by the reprocess job the rule started, as the API and (after Refresh) the page show.
      await waitForTotal(dash, 'userId=eve&featureId=seats', 3);
      page.document.getElementById('refresh').click();
      await waitFor(async () => page.text('unmapped').includes('No unmapped events'), { timeoutMs: 30_000, what: 'the unmapped list empty' });
      expect(page.rows('usage')).toEqual([['eve', 'seats', '3']]);
    } finally {
      page.close();
    }
  });

  it('from the dashboard: Stripe customers imported into the users with their email, and two users sharing an email merged', async () => {
    const { apiKey, seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'messages', name: 'Messages' }), 201);
    await ok(seg.identify(anIdentify({ userId: 'fay', traits: { email: 'fay@example.com', name: 'Fay' } })));
    await ok(seg.identify(anIdentify({ userId: 'gus', traits: { email: 'team@example.com' } })));
    await ok(seg.identify(anIdentify({ userId: 'gus-2', traits: { email: 'team@example.com' } })));
    await ok(seg.track(aTrack({ userId: 'gus-2', properties: { featureId: 'messages', delta: 4 } })));
    for (const userId of ['fay', 'gus', 'gus-2']) await waitForUser(dash, userId);
    await waitForTotal(dash, 'userId=gus-2&featureId=messages', 4);

    const page = await openDashboard();
    try {
      await page.signIn(apiKey);
      await page.viewsLoaded();
      expect(page.text('attention')).toContain('team@example.com');

      page.fill('import-form', { csv: 'id,Description,Email,Name\ncus_Lp1bSKob4laHDD,,fay@example.com,"Fay, F."\n' });
      page.submit('import-form');
      await waitFor(async () => page.text('users-result') !== '', { timeoutMs: 10_000, what: 'the import answered' });
      expect(page.text('users-result')).toBe('1 customer: 0 imported, 1 merged into users with their email, 0 skipped.');
      const [fay] = await usersWith(dash, 'userId=fay');
      expect(fay).toMatchObject({ billingId: 'cus_Lp1bSKob4laHDD', billingProvider: 'stripe' });

      // Keep gus: gus-2 is merged into it, and its usage follows.
      const merge = page.document.querySelector('#attention form.merge');
      const keep = merge.querySelector('select');
      keep.value = [...keep.options].find((option: any) => option.textContent === 'gus').value;
      merge.dispatchEvent(new page.window.Event('submit', { cancelable: true }));
      await waitFor(async () => page.text('users-result').startsWith('Merged'), { timeoutMs: 10_000, what: 'the merge answered' });
      expect(page.text('users-result')).toBe('Merged gus-2 into gus.');
      await waitForTotal(dash, 'userId=gus&featureId=messages', 4);
      await waitFor(async () => page.text('attention').includes('No two users share an email.'), { timeoutMs: 10_000, what: 'no shared email left' });
    } finally {
      page.close();
    }
  });

  it('identify → the user is listed with the traits sent', async () => {
    const { seg, dash } = await newAccount();
    await ok(seg.identify(anIdentify({ userId: 'ada', traits: { email: 'ada@example.com', name: 'Ada', billingUserId: 'cus_Lp1bSKob4laHDD' } })));

    const user = await waitForUser(dash, 'ada');
    expect(user).toMatchObject({ userId: 'ada', email: 'ada@example.com', name: 'Ada', billingId: 'cus_Lp1bSKob4laHDD', billingProvider: 'stripe' });
    expect(await ok(dash.get(`/v1/users/${user.id}`))).toEqual(user);
  });

  it('a Stripe import is claimed by a later identify with the same email', async () => {
    const { seg, dash } = await newAccount();
    expect(await ok(dash.post('/v1/users/import', { customers: [{ id: 'cus_NffrFeUfNV2Hib', email: 'grace@example.com', name: 'Grace H' }] }))).toMatchObject({ imported: 1 });
    const [imported] = await usersWith(dash, 'email=grace@example.com');
    expect(imported).toMatchObject({ userId: null, billingId: 'cus_NffrFeUfNV2Hib', email: 'grace@example.com' });

    await ok(seg.identify(anIdentify({ userId: 'grace', traits: { email: 'grace@example.com' } })));
    const claimed = await waitFor(async () => {
      const users = await usersWith(dash, 'email=grace@example.com');
      return users.length === 1 && users[0].userId === 'grace' && users;
    }, { timeoutMs: 60_000, what: 'the import claimed by userId grace' });
    // The same Kana user, now with the customer's userId, keeping the billing id from Stripe.
    expect(claimed).toEqual([expect.objectContaining({ id: imported.id, userId: 'grace', billingId: 'cus_NffrFeUfNV2Hib', name: 'Grace H' })]);
  });

  it('track with a featureId → usage of that feature', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'messages', name: 'Messages' }), 201);
    await ok(seg.track(aTrack({ userId: 'u1', properties: { featureId: 'messages', delta: 3 } })));
    await ok(seg.track(aTrack({ userId: 'u1', properties: { featureId: 'messages', delta: '2' } })));
    await waitForTotal(dash, 'userId=u1&featureId=messages', 5);
    expect((await ok(dash.get('/v1/usage'))).data).toEqual([{ userId: 'u1', featureId: 'messages', total: 5 }]);
  });

  it('track with no rule → unmapped → rule created → reprocessed → counted, and gone from the unmapped list', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'exports', name: 'Exports' }), 201);
    const events = [1, 2, 3].map((delta) => aTrack({ userId: 'u2', event: 'Report Exported', properties: { format: 'csv', delta } }));
    for (const event of events) await ok(seg.track(event));

    const unmapped = await waitFor(async () => {
      const { data } = await ok(dash.get('/v1/events/unmapped?eventName=Report%20Exported'));
      return data.length === 3 && data;
    }, { timeoutMs: 60_000, what: '3 unmapped Report Exported events' });
    expect(unmapped.map((event: any) => event.messageId).sort()).toEqual(events.map((event) => event.messageId).sort());
    expect(unmapped[0]).toMatchObject({ userId: 'u2', event: 'Report Exported', reason: 'no_rule' });
    // As sent, not in jsonb's order (shorter keys first).
    expect(Object.keys(unmapped[0].properties)).toEqual(['format', 'delta']);
    expect(await usageTotal(dash, 'featureId=exports')).toBe(0);

    const rule = await ok(dash.post('/v1/rules', { featureId: 'exports', eventName: 'Report Exported', conditions: [{ property: 'format', operator: 'eq', value: 'csv' }] }), 201);
    const [job] = (await ok(dash.get('/v1/reprocess-jobs'))).data;
    expect(job.rulesVersion).toBe(rule.version);
    const done = await waitFor(async () => {
      const current = await ok(dash.get(`/v1/reprocess-jobs/${job.id}`));
      return current.status === 'done' && current;
    }, { timeoutMs: 60_000, what: `reprocess job ${job.id} done` });
    expect(done).toMatchObject({ total: 3, processed: 3, mapped: 3 });

    expect(await usageTotal(dash, 'userId=u2&featureId=exports')).toBe(6);
    expect((await ok(dash.get('/v1/events/unmapped?eventName=Report%20Exported'))).data).toEqual([]);
    const records = (await ok(dash.get('/v1/usage/records?featureId=exports'))).data;
    expect(records.map((record: any) => [record.messageId, record.delta, record.ruleId]).sort()).toEqual(
      events.map((event) => [event.messageId, (event.properties as any).delta, rule.id]).sort(),
    );
  });

  it('merge → the merged-away user’s usage follows the survivor, including later events', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'seats', name: 'Seats' }), 201);
    await ok(seg.identify(anIdentify({ userId: 'old-id', traits: { email: 'old@example.com' } })));
    await ok(seg.identify(anIdentify({ userId: 'new-id', traits: { email: 'new@example.com' } })));
    await ok(seg.track(aTrack({ userId: 'old-id', properties: { featureId: 'seats', delta: 2 } })));
    await ok(seg.track(aTrack({ userId: 'new-id', properties: { featureId: 'seats', delta: 5 } })));
    await waitForTotal(dash, 'featureId=seats', 7);
    const from = await waitForUser(dash, 'old-id');
    const into = await waitForUser(dash, 'new-id');

    const survivor = await ok(dash.post(`/v1/users/${from.id}/merge`, { intoId: into.id }));
    expect(survivor).toMatchObject({ id: into.id, userId: 'new-id' });
    await waitFor(async () => (await ok(dash.get('/v1/usage?featureId=seats'))).data.length === 1, { timeoutMs: 60_000, what: 'one usage row after the merge' });
    expect((await ok(dash.get('/v1/usage?featureId=seats'))).data).toEqual([{ userId: 'new-id', featureId: 'seats', total: 7 }]);

    // Segment keeps sending the old userId for a while: it counts for the survivor.
    await ok(seg.track(aTrack({ userId: 'old-id', properties: { featureId: 'seats', delta: 1 } })));
    await waitForTotal(dash, 'featureId=seats', 8);
    expect((await ok(dash.get('/v1/usage?featureId=seats'))).data).toEqual([{ userId: 'new-id', featureId: 'seats', total: 8 }]);
  });

  it('a Segment retry (same messageId twice) is counted once', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'calls', name: 'API calls' }), 201);
    const event = aTrack({ userId: 'u3', properties: { featureId: 'calls', delta: 4 } });
    await ok(seg.track(event));
    await ok(seg.send(event)); // the retry, through the destination's endpoint
    // Same user → same partition, so once this later event is counted the retry was processed too.
    const sentinel = aTrack({ userId: 'u3', properties: { featureId: 'calls', delta: 1 } });
    await ok(seg.track(sentinel));
    await waitFor(async () => (await usageTotal(dash, 'featureId=calls')) >= 5, { timeoutMs: 60_000, what: 'the sentinel counted' });

    expect(await usageTotal(dash, 'featureId=calls')).toBe(5);
    const records = (await ok(dash.get('/v1/usage/records?featureId=calls'))).data;
    expect(records.map((record: any) => record.messageId).sort()).toEqual([event.messageId, sentinel.messageId].sort());
  });

  it('a retried event without a timestamp of its own is listed as unmapped once, and counted once when a rule maps it', async () => {
    const { seg, dash } = await newAccount();
    // The gateway stamps each delivery with the time it was received, so the two copies carry different times.
    const event = aTrack({ userId: 'u5', event: 'Export Retried', timestamp: undefined });
    await ok(seg.track(event));
    await ok(seg.track(event));
    const sentinel = aTrack({ userId: 'u5', event: 'Export Retried' });
    await ok(seg.track(sentinel));
    const listed = await waitFor(async () => {
      const { data } = await ok(dash.get('/v1/events/unmapped?eventName=Export%20Retried'));
      return data.some((row: any) => row.messageId === sentinel.messageId) ? data : undefined;
    }, { timeoutMs: 60_000, what: 'the sentinel listed as unmapped' });
    expect(listed.map((row: any) => row.messageId).sort()).toEqual([event.messageId, sentinel.messageId].sort());

    await ok(dash.post('/v1/features', { id: 'exports', name: 'Exports' }), 201);
    await ok(dash.post('/v1/rules', { featureId: 'exports', eventName: 'Export Retried', conditions: [] }), 201);
    await waitForTotal(dash, 'featureId=exports', 2);
    await waitFor(async () => (await ok(dash.get('/v1/events/unmapped?eventName=Export%20Retried'))).data.length === 0, { timeoutMs: 60_000, what: 'the unmapped list emptied' });
    expect(await usageTotal(dash, 'featureId=exports')).toBe(2);
  });

  it('text Postgres cannot store: U+FFFD in free-form data (the event counts), a 400 naming an id or admin field', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'notes', name: 'Notes' }), 201);
    // Both were answered 200 and then dead-lettered by usage and identity: stored in Kafka, never counted or listed.
    await ok(seg.track(aTrack({ userId: 'u6', properties: { featureId: 'notes', delta: 2, note: 'a\u0000b', half: '\ud83d' } })));
    const unmapped = aTrack({ userId: 'u6', event: 'Note Kept', properties: { note: 'x\u0000', 'k\ude00': 1 } });
    await ok(seg.track(unmapped));
    await ok(seg.identify(anIdentify({ userId: 'u6', traits: { name: 'Ann\u0000', email: 'ann6@example.com' } })));
    await waitForTotal(dash, 'userId=u6&featureId=notes', 2);
    const listed = await waitFor(async () => {
      const { data } = await ok(dash.get('/v1/events/unmapped?eventName=Note%20Kept'));
      return data.length === 1 && data[0];
    }, { timeoutMs: 60_000, what: 'the event listed as unmapped' });
    expect(listed).toMatchObject({ messageId: unmapped.messageId, properties: { note: 'x\uFFFD', 'k\uFFFD': 1 } });
    expect(await waitForUser(dash, 'u6')).toMatchObject({ name: 'Ann\uFFFD', email: 'ann6@example.com' });

    const NUL = 'contains the character U+0000 (NUL), which Kana cannot store: remove it';
    expect(await seg.track(aTrack({ userId: 'u\u0000', properties: { featureId: 'notes' } }))).toMatchObject({ status: 400, body: { message: `field 'userId' ${NUL}` } });
    expect(await dash.post('/v1/features', { id: 'notes-2', name: 'N\u0000' })).toMatchObject({ status: 400, body: { message: `field 'name' ${NUL}` } });
    expect(await dash.post('/v1/rules', { featureId: 'notes', eventName: 'Note Kept', conditions: [{ property: 'note', operator: 'eq', value: 'x\u0000' }] })).toMatchObject({
      status: 400,
      body: { message: `field 'conditions.0.value' ${NUL}` },
    });
    expect(await dash.get('/v1/users?userId=a%00b')).toMatchObject({ status: 400, body: { message: `query parameter 'userId' ${NUL}` } });
    expect((await ok(dash.get('/v1/features'))).data.map((feature: any) => feature.id)).toEqual(['notes']);
  });

  it('an event whose ids are at their limits (1024 bytes of UTF-8 each) is listed as unmapped and counted by a later rule; one byte more is a 400', async () => {
    const { seg, dash } = await newAccount();
    // Three bytes a character: the rules store indexes the event name and the user id each with the messageId.
    const event = aTrack({ userId: 'ü'.repeat(512), event: `${'漢'.repeat(340)}ab`, messageId: `${'字'.repeat(340)}cd`, properties: {} });
    await ok(seg.track(event));
    const listed = await waitFor(async () => {
      const { data } = await ok(dash.get(`/v1/events/unmapped?userId=${encodeURIComponent(event.userId as string)}`));
      return data.length === 1 && data[0];
    }, { timeoutMs: 60_000, what: 'the event listed as unmapped' });
    expect(listed).toMatchObject({ messageId: event.messageId, event: event.event });
    await ok(dash.post('/v1/features', { id: 'long', name: 'Long' }), 201);
    await ok(dash.post('/v1/rules', { featureId: 'long', eventName: event.event, conditions: [] }), 201);
    await waitForTotal(dash, 'featureId=long', 1);
    expect(await seg.track(aTrack({ userId: 'u7', event: `${'漢'.repeat(341)}ab` }))).toMatchObject({
      status: 400,
      body: { message: "field 'event' is 1025 bytes in UTF-8; ids and event names may be at most 1024 bytes (and 512 characters)" },
    });
  });

  it('a batch stores its valid events and names the invalid ones', async () => {
    const { seg, dash } = await newAccount();
    await ok(dash.post('/v1/features', { id: 'jobs', name: 'Jobs' }), 201);
    const valid = aTrack({ userId: 'u4', properties: { featureId: 'jobs', delta: 2 } });
    const reply = await ok(seg.batch([
      valid,
      aTrack({ userId: 'u4', properties: { featureId: 'jobs', delta: 'lots' } }),
      anIdentify({ userId: 'u4', traits: { name: 'Batch User' } }),
      aTrack({ userId: 'anonymous', properties: { featureId: 'jobs' } }),
      { type: 'page', userId: 'u4', name: 'Home' },
    ]));
    expect(reply).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, message: expect.stringContaining('properties.delta') },
        { index: 3, message: expect.stringContaining('userId') },
        { index: 4, message: expect.stringContaining("'page'") },
      ],
    });

    const sentinel = aTrack({ userId: 'u4', properties: { featureId: 'jobs', delta: 1 } });
    await ok(seg.track(sentinel));
    await waitForTotal(dash, 'featureId=jobs', 3);
    const records = (await ok(dash.get('/v1/usage/records?featureId=jobs'))).data;
    expect(records.map((record: any) => record.messageId).sort()).toEqual([valid.messageId, sentinel.messageId].sort());
    await waitFor(async () => (await usersWith(dash, 'userId=u4'))[0]?.name === 'Batch User', { timeoutMs: 60_000, what: 'u4 identified by the batch' });
  });
});
