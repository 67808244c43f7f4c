// PostgreSQL, where every service keeps what it is sent, stores text as UTF-8. It cannot hold
// U+0000, nor half of a UTF-16 surrogate pair: jsonb refuses both ("unsupported Unicode escape
// sequence", "Unicode low surrogate must follow a high surrogate"), text refuses the NUL, and
// pg's UTF-8 encoding turns a lone surrogate into U+FFFD, so 'a\ud83d' and 'a\ude00' would be
// stored as one id. JSON carries either only as a \u escape, which JSON.parse decodes.

/** What such a character in free-form data (properties, traits, context) is stored as. */
export const REPLACEMENT_CHARACTER = '\uFFFD';

/** Whether Postgres can store `text` as it is: no U+0000 and no unpaired surrogate. */
export const isStorable = (text: string): boolean => !text.includes('\u0000') && text.isWellFormed();

/** The 400's words for a value that is not storable; `where` names it ("field 'userId'"). */
export function unstorableMessage(where: string, text: string): string {
  const what = text.includes('\u0000') ? 'the character U+0000 (NUL)' : 'half of a UTF-16 surrogate pair (not valid Unicode)';
  return `${where} contains ${what}, which Kana cannot store: remove it`;
}

/** How deep the walks below look; callers bound the nesting they accept well within it. */
const MAX_DEPTH = 128;

/**
 * The first string or object key in `value` that is not storable, with its path
 * (`conditions.0.value`; a key is named by its own path), or undefined.
 */
export function unstorablePart(value: unknown, path = '', depth = 0): { path: string; text: string } | undefined {
  if (typeof value === 'string') return isStorable(value) ? undefined : { path, text: value };
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return undefined;
  const at = (key: string | number) => (path === '' ? String(key) : `${path}.${key}`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorablePart(value[i], at(i), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!isStorable(key)) return { path: at(key), text: key };
    const found = unstorablePart((value as Record<string, unknown>)[key], at(key), depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * `value` with U+0000 and unpaired surrogates replaced by U+FFFD in every string
 * and key: a new object or array where something changed, the same reference
 * where nothing did. Key order is kept.
 */
export function toStorable<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return (isStorable(value) ? value : value.replaceAll('\u0000', REPLACEMENT_CHARACTER).toWellFormed()) as T;
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const replaced = toStorable(value[i] as unknown, depth + 1);
      if (replaced !== value[i]) (copy ??= value.slice())[i] = replaced;
    }
    return (copy ?? value) as T;
  }
  let changed = false;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]): [string, unknown] => {
    const storableKey = toStorable(key);
    const storableItem = toStorable(item, depth + 1);
    if (storableKey !== key || storableItem !== item) changed = true;
    return [storableKey, storableItem];
  });
  return (changed ? Object.fromEntries(entries) : value) as T;
}
