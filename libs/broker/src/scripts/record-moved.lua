--[[
  recordMoved: records an entry that the blocking pop moved (BLMOVE) into the owner's in-flight
  list as unacked, and takes it off that list, in one atomic step: at every moment the entry is in
  the in-flight list or in 'unacked', never in between.

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>'
  KEYS[4]  the owner's in-flight list for the entry's queue

  ARGV[1]  the raw entry as moved
  ARGV[2]  fetch time, unix seconds as a decimal string
  ARGV[3]  tail of the unacked value: ', "", "<queue>"]'

  Returns the delivery tag, or false when the entry is no longer in the in-flight list (a restore
  took it back because the owner's lease had expired).
  deliveryTagOf comes from delivery-tag.lua, which load-scripts.ts prepends.
]]
local raw = ARGV[1]
if redis.call('LREM', KEYS[4], 1, raw) == 0 then return false end
local now = ARGV[2]
local tag = deliveryTagOf(raw, now, 1)
local value = unackedValue(raw, ARGV[3])
redis.call('ZADD', KEYS[2], now, tag)
redis.call('HSET', KEYS[1], tag, value)
redis.call('HSET', KEYS[3], tag, now)
return tag
