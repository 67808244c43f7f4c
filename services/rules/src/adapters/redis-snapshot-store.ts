import type { Redis } from '@kana/platform';
import { rulesSnapshotKey, SNAPSHOT_HEAD_BYTES, SNAPSHOT_VERSION_LUA, snapshotJson, type RulesSnapshot } from '@kana/schemas';

// Compare-and-set in one Lua script (atomic in Redis): the snapshot is written
// only when the stored one is older or absent, so a slow writer holding an old
// snapshot can never put it back over a newer one. An unreadable stored value
// is replaced (a newer writer would replace it anyway). The stored version is
// read from the value's first bytes, as usage reads it: decoding a snapshot of
// up to 1 MiB would hold Redis, and every service's calls to it, for
// milliseconds; a value in another shape is decoded whole.
const CAS_SCRIPT = `
local version = tonumber(string.match(redis.call('GETRANGE', KEYS[1], 0, ${SNAPSHOT_HEAD_BYTES - 1}), '${SNAPSHOT_VERSION_LUA}'))
if version == nil then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, decoded = pcall(cjson.decode, current)
    if ok and type(decoded) == 'table' then version = tonumber(decoded.version) end
  end
end
if version ~= nil and version >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

type CasRedis = Redis & { rulesSnapshotCas(key: string, version: string, json: string): Promise<number> };

export class RedisSnapshotStore {
  private readonly redis: CasRedis;

  constructor(redis: Redis) {
    if (!('rulesSnapshotCas' in redis)) redis.defineCommand('rulesSnapshotCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
    this.redis = redis as CasRedis;
  }

  /** true when written, false when Redis already holds this version or a newer one. */
  async write(snapshot: RulesSnapshot): Promise<boolean> {
    // ioredis applies the client's keyPrefix to KEYS, so the key here is unprefixed.
    const written = await this.redis.rulesSnapshotCas(rulesSnapshotKey(snapshot.accountId), String(snapshot.version), snapshotJson(snapshot));
    return written === 1;
  }

  async read(accountId: string): Promise<RulesSnapshot | undefined> {
    const json = await this.redis.get(rulesSnapshotKey(accountId));
    return json ? (JSON.parse(json) as RulesSnapshot) : undefined;
  }
}
