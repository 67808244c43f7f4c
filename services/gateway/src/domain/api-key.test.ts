import { generateApiKey, hashApiKey, NoApiKey, readApiKey } from './api-key';

/** The key readApiKey finds, or undefined. */
const apiKeyFromAuthorization = (header: string | undefined) => {
  const read = readApiKey(header);
  return typeof read === 'string' ? read : undefined;
};
/** Why readApiKey found none. */
const whyNoApiKey = (header: string | undefined) => (readApiKey(header) as NoApiKey).reason;

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('readApiKey: the key', () => {
  it.each([
    ['Segment’s Basic with empty password', basic('kana_live_abc:'), 'kana_live_abc'],
    ['Basic with a password (ignored)', basic('kana_live_abc:secret'), 'kana_live_abc'],
    ['Basic without colon', basic('kana_live_abc'), 'kana_live_abc'],
    ['Basic of a key pasted with a trailing newline', basic('kana_live_abc\n:'), 'kana_live_abc'],
    ['Basic of a key pasted between spaces', basic(' kana_live_abc :'), 'kana_live_abc'],
    ['Bearer', 'Bearer kana_live_abc', 'kana_live_abc'],
    ['Bearer with trailing whitespace', 'Bearer kana_live_abc \t', 'kana_live_abc'],
    ['lower-case scheme', 'bearer kana_live_abc', 'kana_live_abc'],
    ['missing', undefined, undefined],
    ['empty Basic user', basic(':pw'), undefined],
    ['blank Basic user', basic('  :'), undefined],
    ['empty Bearer', 'Bearer ', undefined],
    ['other scheme', 'Digest abc', undefined],
    ['no scheme', 'kana_live_abc', undefined],
  ])('%s', (_name, header, expected) => {
    expect(apiKeyFromAuthorization(header)).toBe(expected);
  });
});

describe('readApiKey: why there is none', () => {
  const HOW = 'send Authorization: Basic base64(apiKey + ":") or Bearer <apiKey>';
  it.each([
    ['missing', undefined, `missing API key: ${HOW}`],
    ['the key without a scheme', 'kana_live_abc', `the Authorization header has no scheme: ${HOW}`],
    ['another scheme', 'Token kana_live_abc', `the Authorization scheme 'Token' is not accepted: ${HOW}`],
    ['an empty Bearer', 'Bearer  ', `the Bearer token is empty: ${HOW}`],
    ['the key as the Basic password (curl -u :key)', basic(':kana_live_abc'), 'the Basic user name is empty: the API key goes in the user name, with an empty password (base64(apiKey + ":"))'],
    ['an empty Basic', basic(':'), `missing API key: ${HOW}`],
  ])('words %s without repeating the header', (_name, header, message) => {
    expect(apiKeyFromAuthorization(header)).toBeUndefined();
    expect(whyNoApiKey(header)).toBe(message);
    expect(message).not.toContain('kana_live_abc');
  });
});

describe('generateApiKey', () => {
  it('makes distinct, prefixed, url-safe keys whose hash is hex sha256', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a).toMatch(/^kana_live_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(hashApiKey(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(a)).not.toBe(hashApiKey(b));
  });
});
