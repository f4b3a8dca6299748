--[[
  recordDelivery: records one entry that a blocking pop already took as unacked.

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[3] == '1')

  ARGV[1]  the raw entry as popped
  ARGV[2]  fetch time, unix seconds as a decimal string
  ARGV[3]  '1' to record the tag in the owner hash, '0' not to
  ARGV[4]  tail of the unacked value: ', "", "<queue>"]'

  Returns the delivery tag.
  deliveryTagOf comes from delivery-tag.lua, which load-scripts.ts prepends.
]]
local raw = ARGV[1]
local now = ARGV[2]
local tag = deliveryTagOf(raw, now, 1)

local value = unackedValue(raw, ARGV[4])
redis.call('ZADD', KEYS[2], now, tag)
redis.call('HSET', KEYS[1], tag, value)
if ARGV[3] == '1' then redis.call('HSET', KEYS[3], tag, now) end
return tag
