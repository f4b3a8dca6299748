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

/**
 * Takes or renews the rollout lease: the replica holding it is the only one that drives rollouts.
 * KEYS[1] lease key. ARGV[1] this replica's token, ARGV[2] time to live in ms.
 * Returns 1 when the lease is (now) ours, 0 when another replica holds it.
 */
export const ACQUIRE_ROLLOUT_LEASE_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Gives the lease up if ours. KEYS[1] lease key, ARGV[1] token. Returns 1 when it was ours. */
export const RELEASE_ROLLOUT_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/**
 * Fenced write of the rollout records: only the lease holder's token writes, so a replica that lost
 * the lease (paused, partitioned) cannot overwrite what its successor decided.
 * KEYS[1] lease key, KEYS[2] records key, KEYS[3] version key. ARGV[1] token, ARGV[2] records JSON,
 * ARGV[3] change channel. Returns the new version, or 0 when the token does not hold the lease.
 */
export const WRITE_ROLLOUTS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[3], version)
return version
`;

/**
 * Fenced take of the operator commands queued by any replica for the lease holder.
 * KEYS[1] lease key, KEYS[2] command list. ARGV[1] token. Returns the commands (JSON), oldest first;
 * none when the token does not hold the lease (they stay queued for the holder).
 */
export const TAKE_ROLLOUT_COMMANDS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
local commands = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return commands
`;
