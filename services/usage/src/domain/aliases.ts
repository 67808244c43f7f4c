// Which user each merged-away userId's usage counts for, from every merge identity announced.
// A function of the set of merges, not of the order they arrive in (see migration 004).

export interface Merge {
  from: string;
  into: string;
  /** When identity merged them (epoch ms). */
  at: number;
}

export interface Alias {
  survivor: string;
  /** When the userId was last merged away (epoch ms). */
  mergedAt: number;
}

/**
 * A userId is merged away when its latest merge away is later than its latest
 * merge as the survivor: identity only merges into a user that exists, so a
 * user that survived a merge after it had been merged away was created again
 * (its userId came back after a delete). Its usage counts for the end of the
 * chain of such merges: A->B then B->C counts A for C. Along a chain each
 * merge is later than the one before, so there are no cycles; a guard stops
 * one anyway.
 */
export function resolveAliases(merges: readonly Merge[]): Map<string, Alias> {
  const away = new Map<string, Merge>();
  const survived = new Map<string, number>();
  for (const merge of merges) {
    if (merge.from === merge.into) continue;
    const last = away.get(merge.from);
    // Two merges away at the same instant cannot both hold; pick one the same way every time.
    if (!last || merge.at > last.at || (merge.at === last.at && merge.into > last.into)) away.set(merge.from, merge);
    survived.set(merge.into, Math.max(survived.get(merge.into) ?? -Infinity, merge.at));
  }
  const isAway = (user: string): Merge | undefined => {
    const merge = away.get(user);
    return merge && merge.at > (survived.get(user) ?? -Infinity) ? merge : undefined;
  };
  const aliases = new Map<string, Alias>();
  for (const user of away.keys()) {
    const own = isAway(user);
    if (!own) continue;
    let survivor = own.into;
    const seen = new Set([user]);
    for (let next = isAway(survivor); next && !seen.has(survivor); next = isAway(survivor)) {
      seen.add(survivor);
      survivor = next.into;
    }
    aliases.set(user, { survivor, mergedAt: own.at });
  }
  return aliases;
}
