import { anIdentify, anImport, aUser, withEmail } from '../../test/builders';
import { decide } from './decide';
import type { IdentifyInput, UserRecord } from './user';
import { UserView } from './user-view';

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T11:00:00.000Z';
const T2 = '2024-05-01T12:00:00.000Z';

/** Runs events through decide + apply in order, as the store does for one batch. */
function run(users: UserRecord[], events: IdentifyInput[], loaded: { deleted?: [string, string][]; aliases?: [string, string, string][] } = {}) {
  let n = 0;
  const view = new UserView(
    {
      users,
      tombstones: (loaded.deleted ?? []).map(([userId, at]) => ({ accountId: 'acc1', userId, at: Date.parse(at) })),
      aliases: (loaded.aliases ?? []).map(([userId, survivorId, at]) => ({ accountId: 'acc1', userId, survivorId, at: Date.parse(at) })),
    },
    { newId: () => `new-${++n}`, now: () => '2024-06-01T00:00:00.000Z' },
  );
  const actions = events.map((event) => {
    const decision = decide(view, event);
    view.apply(event, decision);
    return decision.action === 'skip' ? `skip:${decision.reason}` : decision.action;
  });
  const state = (userId: string) => view.byUserId('acc1', userId);
  return { view, actions, state, changes: view.changes.map((c) => c.kind), issues: view.issues.map((i) => i.kind) };
}

describe('decide: the identity table of DESIGN.md', () => {
  const imp = () => anImport({ id: 'imp', ...withEmail('ann@x.io'), name: 'Ann (Stripe)' });

  it.each<{ row: string; users: () => UserRecord[]; event: Partial<IdentifyInput>; action: string; changes: string[]; issues: string[]; expect?: Partial<UserRecord>; gone?: string[] }>([
    {
      row: '1. a user with this userId exists → update the fields the event carries',
      users: () => [aUser({ id: 'a', name: 'Ann', nameAt: Date.parse(T0), ...withEmail('ann@x.io'), emailAt: Date.parse(T0) })],
      event: { timestamp: T1, traits: { name: 'Ann B' } },
      action: 'update', changes: ['updated'], issues: [],
      expect: { id: 'a', name: 'Ann B', email: 'ann@x.io' },
    },
    {
      row: '1. same values again → nothing changes, no change event',
      users: () => [aUser({ id: 'a', name: 'Ann', nameAt: Date.parse(T0) })],
      event: { timestamp: T1, traits: { name: 'Ann' } },
      action: 'update', changes: [], issues: [],
      expect: { name: 'Ann' },
    },
    {
      row: '2. no such user, exactly one user has the email and no userId (a Stripe import) → it takes the userId and the new fields',
      users: () => [imp()],
      event: { userId: 'u1', timestamp: T1, traits: { email: ' ANN@x.io ', name: 'Ann' } },
      action: 'claim', changes: ['updated'], issues: [],
      expect: { id: 'imp', userId: 'u1', name: 'Ann', billingId: 'cus_Imported0001', billingProvider: 'stripe', source: 'import' },
    },
    {
      row: '3. no such user, nobody has this email → create',
      users: () => [aUser({ id: 'b', userId: 'u2', ...withEmail('bob@x.io') })],
      event: { traits: { email: 'ann@x.io', name: 'Ann', billingUserId: 'cus_Lp1bSKob4laHDD' } },
      action: 'create', changes: ['created'], issues: [],
      expect: { id: 'new-1', userId: 'u1', email: 'ann@x.io', name: 'Ann', billingId: 'cus_Lp1bSKob4laHDD', billingProvider: 'stripe', source: 'identify' },
    },
    {
      row: '3. no such user and no email → create',
      users: () => [],
      event: { traits: { name: 'Ann' } },
      action: 'create', changes: ['created'], issues: [],
      expect: { name: 'Ann', email: null },
    },
    {
      row: '4. no such user, the email is shared by users that have userIds → create, merge nothing',
      users: () => [aUser({ id: 'b', userId: 'u2', ...withEmail('team@x.io') }), aUser({ id: 'c', userId: 'u3', ...withEmail('team@x.io') })],
      event: { traits: { email: 'team@x.io' } },
      action: 'create', changes: ['created'], issues: [],
      expect: { id: 'new-1', email: 'team@x.io' },
    },
    {
      row: '5. no such user, the email matches several imports → create, merge nothing, record a conflict',
      users: () => [anImport({ id: 'i1', ...withEmail('ann@x.io') }), anImport({ id: 'i2', ...withEmail('ann@x.io'), billingId: 'cus_Imported0002' })],
      event: { traits: { email: 'ann@x.io' } },
      action: 'create', changes: ['created'], issues: ['merge_conflict'],
      expect: { id: 'new-1', billingId: null },
    },
    {
      row: '5. no such user, the email matches an import and a user with a userId → create + conflict',
      users: () => [imp(), aUser({ id: 'b', userId: 'u2', ...withEmail('ann@x.io') })],
      event: { traits: { email: 'ann@x.io' } },
      action: 'create', changes: ['created'], issues: ['merge_conflict'],
      expect: { id: 'new-1' },
    },
    {
      row: '6. an existing user gets an email matching exactly one import → the import is merged in, billing id carried over',
      users: () => [aUser({ id: 'a', name: 'Ann' }), imp()],
      event: { timestamp: T1, traits: { email: 'ann@x.io' } },
      action: 'update', changes: ['merged'], issues: [],
      expect: { id: 'a', name: 'Ann', email: 'ann@x.io', billingId: 'cus_Imported0001', billingProvider: 'stripe' },
      gone: ['imp'],
    },
    {
      row: '6. the merged import does not replace a billing id the user already has',
      users: () => [aUser({ id: 'a', billingId: 'cus_OwnBilling01', billingProvider: 'stripe' }), imp()],
      event: { timestamp: T1, traits: { email: 'ann@x.io' } },
      action: 'update', changes: ['merged'], issues: [],
      expect: { id: 'a', billingId: 'cus_OwnBilling01', name: 'Ann (Stripe)' },
      gone: ['imp'],
    },
    {
      row: '6. the email matches an import and another user with a userId → no merge, conflict recorded',
      users: () => [aUser({ id: 'a' }), imp(), aUser({ id: 'b', userId: 'u2', ...withEmail('ann@x.io') })],
      event: { timestamp: T1, traits: { email: 'ann@x.io' } },
      action: 'update', changes: ['updated'], issues: ['merge_conflict'],
      expect: { id: 'a', email: 'ann@x.io', billingId: null },
    },
    {
      row: '6. an older event\'s email does not win, so it merges nothing',
      users: () => [aUser({ id: 'a', ...withEmail('new@x.io'), emailAt: Date.parse(T2) }), imp()],
      event: { timestamp: T1, traits: { email: 'ann@x.io' } },
      action: 'update', changes: [], issues: [],
      expect: { id: 'a', email: 'new@x.io' },
    },
  ])('$row', ({ users, event, action, changes, issues, expect: expected, gone }) => {
    const result = run(users(), [anIdentify(event)]);
    expect(result.actions).toEqual([action]);
    expect(result.changes).toEqual(changes);
    expect(result.issues).toEqual(issues);
    expect(result.state('u1')).toMatchObject(expected ?? {});
    for (const id of gone ?? []) expect(result.view.get(id)).toBeUndefined();
  });
});

describe('decide: order, duplicates, aliases and bad traits', () => {
  it('never lets an older event overwrite a newer field, but lets it fill a field nobody wrote', () => {
    const { state } = run([], [
      anIdentify({ timestamp: T2, traits: { name: 'New' } }),
      anIdentify({ timestamp: T1, traits: { name: 'Old', email: 'ann@x.io' } }),
    ]);
    expect(state('u1')).toMatchObject({ name: 'New', email: 'ann@x.io', nameAt: Date.parse(T2), emailAt: Date.parse(T1) });
  });

  it('lets a redelivered event change nothing, in a later batch or later in the same one, even with a changed body', () => {
    const first = anIdentify({ messageId: 'm1', timestamp: T1, traits: { name: 'Ann', email: 'ann@x.io', billingUserId: 'not valid' } });
    const { actions, changes, issues, view } = run([], [first, { ...first, traits: { ...first.traits, name: 'Changed retry', email: 'other@x.io' } }]);
    expect(actions).toEqual(['create', 'update']);
    expect(changes).toEqual(['created']);
    // The bad billing id was never stored, so the replay reports it again: the same issue, and issues are a set.
    expect(new Set(view.issues.map((issue) => JSON.stringify(issue)))).toEqual(new Set([JSON.stringify(view.issues[0])]));
    expect(issues[0]).toBe('invalid_billing_id');
    expect(view.byUserId('acc1', 'u1')).toMatchObject({ name: 'Ann', email: 'ann@x.io' });

    const stored = aUser({ id: 'a', name: 'Ann', nameAt: Date.parse(T1), ...withEmail('ann@x.io'), emailAt: Date.parse(T1) });
    const later = run([stored, anImport({ id: 'imp', ...withEmail('ann@x.io') })], [{ ...first, traits: { name: 'Ann', email: 'ann@x.io' } }]);
    expect(later).toMatchObject({ actions: ['update'], changes: [], issues: [] });
    expect(later.view.get('imp')).toBeDefined(); // a replay does not merge what the original did not
  });

  it('emits one change per user per batch: updates after a created or an updated fold into it, the newest timestamp wins', () => {
    const created = run([], [
      anIdentify({ timestamp: T0, traits: { name: 'A' } }),
      anIdentify({ timestamp: T2, traits: { name: 'B' } }),
      anIdentify({ timestamp: T1, traits: { email: 'ann@x.io' } }),
    ]);
    expect(created.actions).toEqual(['create', 'update', 'update']);
    expect(created.view.changes).toEqual([expect.objectContaining({ kind: 'created', at: T0 })]);
    const updated = run([aUser({ id: 'a', name: 'Ann', nameAt: Date.parse(T0) }), aUser({ id: 'b', userId: 'u2' })], [
      anIdentify({ timestamp: T1, traits: { name: 'A1' } }),
      anIdentify({ userId: 'u2', timestamp: T1, traits: { name: 'Bob' } }),
      anIdentify({ timestamp: T2, traits: { name: 'A2' } }),
    ]);
    expect(updated.view.changes.map((c) => [c.user.id, c.kind, c.at])).toEqual([['a', 'updated', T2], ['b', 'updated', T1]]);
  });

  it('keeps a merge between two updates of the same user, in order', () => {
    const { changes } = run([aUser({ id: 'a', name: 'Ann', nameAt: Date.parse(T0) }), anImport({ id: 'imp', ...withEmail('ann@x.io') })], [
      anIdentify({ timestamp: T1, traits: { name: 'A1' } }),
      anIdentify({ timestamp: T1, traits: { email: 'ann@x.io' } }),
      anIdentify({ timestamp: T2, traits: { name: 'A2' } }),
    ]);
    expect(changes).toEqual(['updated', 'merged', 'updated']);
  });

  it('keeps the first of two different events with the same timestamp (strict on ties)', () => {
    const { state } = run([], [anIdentify({ timestamp: T1, traits: { name: 'First' } }), anIdentify({ timestamp: T1, traits: { name: 'Second' } })]);
    expect(state('u1')?.name).toBe('First');
  });

  it('records an invalid value only when the event is newer than the stored one', () => {
    const user = aUser({ billingId: 'cus_KeepThisOne1', billingProvider: 'stripe', billingAt: Date.parse(T1) });
    expect(run([user], [anIdentify({ timestamp: T0, traits: { billingUserId: 'bad id' } })]).issues).toEqual([]);
    expect(run([{ ...user }], [anIdentify({ timestamp: T2, traits: { billingUserId: 'bad id' } })]).issues).toEqual(['invalid_billing_id']);
  });

  it('applies an identify for a merged-away userId to the survivor when newer than the merge; an older one only fills what it lacks', () => {
    const survivor = () => aUser({ id: 'keep', userId: 'keep', name: 'Keep', nameAt: Date.parse(T0) });
    const newer = run([survivor()], [anIdentify({ userId: 'gone', timestamp: T2, traits: { name: 'Renamed', billingUserId: 'bad id' } })], { aliases: [['gone', 'keep', T1]] });
    expect(newer).toMatchObject({ actions: ['update'], changes: ['updated'], issues: ['invalid_billing_id'] });
    expect(newer.state('keep')).toMatchObject({ id: 'keep', name: 'Renamed' });
    expect(newer.state('gone')).toBeUndefined();
    expect(newer.view.issues[0]).toMatchObject({ userId: 'keep' });
    const older = run([survivor()], [anIdentify({ userId: 'gone', timestamp: T0, traits: { name: 'Late retry' } })], { aliases: [['gone', 'keep', T1]] });
    expect(older).toMatchObject({ actions: ['skip:merged_later'], changes: [] });
    expect(older.state('keep')?.name).toBe('Keep');
    // Delivered late, from before the merge: the billing id the survivor lacks is filled, its name kept.
    const late = anIdentify({ userId: 'gone', timestamp: T0, traits: { name: 'Late retry', billingUserId: 'cus_LateBilling1', email: 'not an email' } });
    const filled = run([survivor()], [late, late], { aliases: [['gone', 'keep', T1]] });
    expect(filled).toMatchObject({ actions: ['update', 'skip:merged_later'], changes: ['updated'], issues: [] });
    expect(filled.state('keep')).toMatchObject({ id: 'keep', name: 'Keep', billingId: 'cus_LateBilling1', billingProvider: 'stripe', billingAt: Date.parse(T0) });
  });

  it('does not bring back a deleted user with an event older than the deletion, but does with a newer one', () => {
    expect(run([], [anIdentify({ timestamp: T0 })], { deleted: [['u1', T1]] }).actions).toEqual(['skip:deleted_later']);
    expect(run([], [anIdentify({ timestamp: T2 })], { deleted: [['u1', T1]] }).actions).toEqual(['create']);
  });

  it.each([
    ['billingUserId', { billingUserId: 'AzZlGYSe8mY3F1Dxo' }, 'AzZlGYSe8mY3F1Dxo', 'chargebee'],
    ['billingId', { billingId: 'cus_Lp1bSKob4laHDD' }, 'cus_Lp1bSKob4laHDD', 'stripe'],
    ['both (billingUserId wins)', { billingId: 'cus_Lp1bSKob4laHDD', billingUserId: 'cus_WinnerWinner1' }, 'cus_WinnerWinner1', 'stripe'],
  ])('stores the billing id sent as %s with its provider', (_spelling, traits, billingId, billingProvider) => {
    expect(run([], [anIdentify({ traits })]).state('u1')).toMatchObject({ billingId, billingProvider });
  });

  it('records an invalid billing id or email as an issue and still applies the other fields', () => {
    const { state, issues, view } = run([aUser({ billingId: 'cus_KeepThisOne1', billingProvider: 'stripe' })], [
      anIdentify({ timestamp: T1, traits: { name: 'Ann', email: 'ann at x', billingUserId: 'not a billing id', is_vip_audience: true } }),
    ]);
    expect(state('u1')).toMatchObject({ name: 'Ann', email: null, billingId: 'cus_KeepThisOne1' });
    expect(issues).toEqual(['invalid_email', 'invalid_billing_id']);
    expect(view.issues[1]).toMatchObject({ accountId: 'acc1', userId: 'u1', at: T1 });
  });

  it('keeps accounts apart: the same userId and email in another account are other users', () => {
    const other = anImport({ id: 'other-imp', accountId: 'acc2', ...withEmail('ann@x.io') });
    expect(run([other], [anIdentify({ traits: { email: 'ann@x.io' } })]).actions).toEqual(['create']);
  });
});
