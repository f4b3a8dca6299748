/**
 * Compare-and-append of one revision.
 * KEYS[1] revisions list (entry i is revision i + 1), KEYS[2] hash layer -> revision of its last change.
 * ARGV[1] layer, ARGV[2] expected layer revision (0 = absent), ARGV[3] expected head revision,
 * ARGV[4] the revision JSON without its number (an object, so it starts with "{"), ARGV[5] change channel.
 * Returns {'ok', revision} | {'layer_conflict', current layer revision} | {'head_moved', head revision}.
 */
export const APPEND_REVISION_LUA = `
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if current ~= tonumber(ARGV[2]) then return {'layer_conflict', current} end
local head = redis.call('LLEN', KEYS[1])
if head ~= tonumber(ARGV[3]) then return {'head_moved', head} end
local revision = head + 1
redis.call('RPUSH', KEYS[1], '{"revision":' .. revision .. ',' .. string.sub(ARGV[4], 2))
redis.call('HSET', KEYS[2], ARGV[1], revision)
redis.call('PUBLISH', ARGV[5], revision)
return {'ok', revision}
`;
