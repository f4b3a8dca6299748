--[[
  deadLetter: parks an entry that cannot be processed and acks it, atomically.

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4]  dead-letter list (default 'celeriac.dead-letter')

  ARGV[1]  '1' to also remove the tag from the owner hash, '0' not to
  ARGV[2]  delivery tag
  ARGV[3]  JSON record {raw, reason, queue, at}, pushed with LPUSH

  Returns the new length of the dead-letter list.
]]
local length = redis.call('LPUSH', KEYS[4], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
if ARGV[1] == '1' then redis.call('HDEL', KEYS[3], ARGV[2]) end
return length
