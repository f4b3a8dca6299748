--[[
  deadLetter: parks an entry that cannot be processed and acks it, atomically; keeps the
  dead-letter list at most ARGV[4] long (the oldest records are trimmed).

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4]  dead-letter list (default 'celeriac.dead-letter')
  KEYS[5]  started set 'celeriac.started.<ownerId>' (used when ARGV[1] == '1')

  ARGV[1]  '1' to also remove the tag from the owner hash, '0' not to
  ARGV[2]  delivery tag
  ARGV[3]  JSON record (format in README.md), pushed with LPUSH
  ARGV[4]  most records kept (0 = no cap)

  Returns the length of the dead-letter list before trimming.
]]
local length = redis.call('LPUSH', KEYS[4], ARGV[3])
local max = tonumber(ARGV[4])
if max > 0 and length > max then redis.call('LTRIM', KEYS[4], 0, max - 1) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
if ARGV[1] == '1' then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('SREM', KEYS[5], ARGV[2])
end
return length
