// JSON.parse accepts any depth, but everything after it recurses: the derived
// messageId (canonicalJson), the registry's JSON.stringify when encoding, and
// consumers storing traits as jsonb. A few thousand levels overflow the stack:
// without messageId that was a 500, with one a 503 the sender retried forever.
// Real Segment payloads nest a handful of levels; 64 leaves ample room.
export const MAX_NESTING = 64;

/**
 * Whether `value` nests objects/arrays more than `limit` levels deep (a
 * scalar is 0 levels, `{}` and `[]` are 1). Iterative, so a hostile depth
 * cannot overflow the stack of the check itself.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [item, level] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (level > limit) return true;
    for (const child of Object.values(item)) {
      if (child !== null && typeof child === 'object') pending.push([child, level + 1]);
    }
  }
  return false;
}

/** The top-level field of `raw` that nests too deep, if any (its name bounded for the error message). */
export function tooDeepField(raw: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(raw)) {
    if (nestsDeeperThan(value, MAX_NESTING)) return name.slice(0, 40);
  }
  return undefined;
}
