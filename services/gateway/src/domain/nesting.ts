// JSON.parse accepts any depth, but everything after it recurses: the derived
// messageId (canonicalJson), the registry's JSON.stringify when encoding, and
// consumers storing traits as jsonb. A few thousand levels overflow the stack:
// without messageId that was a 500, with one a 503 the sender retried forever.
// Real Segment payloads nest a handful of levels; 64 leaves ample room.
export const MAX_NESTING = 64;

/**
 * Whether `value` nests objects/arrays more than `limit` levels deep (a
 * scalar is 0 levels, `{}` and `[]` are 1). The recursion stops `limit + 1`
 * levels down, so a hostile depth cannot overflow the stack of the check
 * itself; no allocation per node (it runs over every event's whole body).
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (limit < 1) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (child !== null && typeof child === 'object' && nestsDeeperThan(child, limit - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object' && nestsDeeperThan(child, limit - 1)) return true;
  }
  return false;
}

/** The top-level field of `raw` that nests too deep, if any (its name bounded for the error message). */
export function tooDeepField(raw: Record<string, unknown>): string | undefined {
  for (const name in raw) {
    if (nestsDeeperThan(raw[name], MAX_NESTING)) return name.slice(0, 40);
  }
  return undefined;
}
