import fc from 'fast-check';
import { resolveAliases, type Merge } from './aliases';

const merge = (from: string, into: string, at: number): Merge => ({ from, into, at });
const table = (merges: Merge[]) => Object.fromEntries([...resolveAliases(merges)].map(([user, alias]) => [user, alias.survivor]));

describe('resolveAliases', () => {
  it('counts a chain for its end, whatever order the merges arrive in', () => {
    expect(table([merge('a', 'b', 1), merge('b', 'c', 2)])).toEqual({ a: 'c', b: 'c' });
    expect(table([merge('b', 'c', 2), merge('a', 'b', 1)])).toEqual({ a: 'c', b: 'c' });
  });

  it('keeps the merged-away time of each userId', () => {
    expect(resolveAliases([merge('b', 'c', 2), merge('a', 'b', 1)]).get('a')).toEqual({ survivor: 'c', mergedAt: 1 });
  });

  it('treats a userId that survived a later merge as live again (merged the other way round)', () => {
    expect(table([merge('a', 'b', 1), merge('b', 'a', 2)])).toEqual({ b: 'a' });
    expect(table([merge('b', 'a', 2), merge('a', 'b', 1)])).toEqual({ b: 'a' });
    // b was merged into c, came back, and a was merged into it: a counts for b, not c.
    expect(table([merge('b', 'c', 1), merge('a', 'b', 2)])).toEqual({ a: 'b' });
  });

  it('follows the latest merge away of a userId', () => {
    expect(table([merge('a', 'b', 1), merge('b', 'a', 2), merge('a', 'c', 3)])).toEqual({ a: 'c', b: 'c' });
  });

  it('closes the aliases into a survivor deleted after they were made, not before', () => {
    const closed = (merges: Merge[], deletions: { user: string; at: number }[]) =>
      Object.fromEntries([...resolveAliases(merges, deletions)].map(([user, alias]) => [user, alias.closedAt ?? null]));
    expect(closed([merge('a', 'b', 1), merge('b', 'c', 2)], [{ user: 'c', at: 3 }])).toEqual({ a: 3, b: 3 });
    // c was deleted and created again before b was merged into it: a and b count for the new c.
    expect(closed([merge('a', 'b', 1), merge('b', 'c', 3)], [{ user: 'c', at: 2 }])).toEqual({ a: null, b: null });
    // Deleting a user nothing was merged into closes nothing.
    expect(closed([merge('a', 'b', 1)], [{ user: 'x', at: 2 }])).toEqual({ a: null });
  });

  it('gives the same table for every arrival order of any merge history', () => {
    // Histories as identity makes them: each merge at a later time, from a user into another one.
    const users = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const history = fc.array(fc.tuple(users, users), { maxLength: 12 }).map((pairs) =>
      pairs.filter(([from, into]) => from !== into).map(([from, into], i) => merge(from, into, i + 1)),
    );
    fc.assert(
      fc.property(history, fc.func(fc.integer()), (merges, key) => {
        const shuffled = [...merges].sort((x, y) => key(x.at) - key(y.at));
        expect(table(shuffled)).toEqual(table(merges));
        // Nobody counts for a userId that is itself merged away.
        const result = resolveAliases(merges);
        for (const alias of result.values()) expect(result.has(alias.survivor)).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives each userId the alias it gets from the merges and deletions of its component alone', () => {
    // What PgUserAliases relies on to recompute only the users a batch is connected to by merges.
    const users = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
    const history = fc.record({
      merges: fc.array(fc.tuple(users, users), { maxLength: 10 }).map((pairs) =>
        pairs.filter(([from, into]) => from !== into).map(([from, into], i) => merge(from, into, 2 * i + 1)),
      ),
      deletions: fc.array(fc.tuple(users, fc.integer({ min: 0, max: 22 })), { maxLength: 4 }).map((pairs) => pairs.map(([user, at]) => ({ user, at }))),
    });
    fc.assert(
      fc.property(history, ({ merges, deletions }) => {
        const everything = resolveAliases(merges, deletions);
        for (const start of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
          const component = new Set([start]);
          for (let grew = true; grew; ) {
            grew = false;
            for (const m of merges) {
              if (component.has(m.from) !== component.has(m.into)) [component.add(m.from), component.add(m.into), (grew = true)];
            }
          }
          const alone = resolveAliases(
            merges.filter((m) => component.has(m.from)),
            deletions.filter((d) => component.has(d.user)),
          );
          for (const user of component) expect(alone.get(user)).toEqual(everything.get(user));
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
