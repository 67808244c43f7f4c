// Which user each merged-away userId's usage counts for, from every merge and deletion identity
// announced. A function of those sets, not of the order they arrive in (see migration 004).

export interface Merge {
  from: string;
  into: string;
  /** When identity merged them (epoch ms). */
  at: number;
}

export interface Deletion {
  user: string;
  /** When identity deleted the user (epoch ms). */
  at: number;
}

export interface Alias {
  survivor: string;
  /** When the userId was last merged away (epoch ms). */
  mergedAt: number;
  /**
   * When the survivor was deleted after the userId came to count for it (epoch ms). From then on
   * the userId is one identity has not seen (it deleted the user the alias led to, and a later
   * identify creates it anew): its usage recorded before counts for the deleted survivor, as the
   * rest of that user's history does, and its usage after counts for itself.
   */
  closedAt?: number;
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
export function resolveAliases(merges: readonly Merge[], deletions: readonly Deletion[] = []): Map<string, Alias> {
  const away = new Map<string, Merge>();
  const survived = new Map<string, number>();
  for (const merge of merges) {
    if (merge.from === merge.into) continue;
    const last = away.get(merge.from);
    // Two merges away at the same instant cannot both hold; pick one the same way every time.
    if (!last || merge.at > last.at || (merge.at === last.at && merge.into > last.into)) away.set(merge.from, merge);
    survived.set(merge.into, Math.max(survived.get(merge.into) ?? -Infinity, merge.at));
  }
  const deleted = new Map<string, number>();
  for (const deletion of deletions) deleted.set(deletion.user, Math.max(deleted.get(deletion.user) ?? -Infinity, deletion.at));
  const isAway = (user: string): Merge | undefined => {
    const merge = away.get(user);
    return merge && merge.at > (survived.get(user) ?? -Infinity) ? merge : undefined;
  };
  const aliases = new Map<string, Alias>();
  for (const user of away.keys()) {
    const own = isAway(user);
    if (!own) continue;
    let survivor = own.into;
    // When the userId came to count for `survivor`: the last merge of its chain.
    let reached = own.at;
    const seen = new Set([user]);
    for (let next = isAway(survivor); next && !seen.has(survivor); next = isAway(survivor)) {
      seen.add(survivor);
      survivor = next.into;
      reached = Math.max(reached, next.at);
    }
    const deletedAt = deleted.get(survivor);
    aliases.set(user, { survivor, mergedAt: own.at, ...(deletedAt !== undefined && deletedAt > reached ? { closedAt: deletedAt } : {}) });
  }
  return aliases;
}
