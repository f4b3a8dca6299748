--[[
  defer: moves held entries whose eta lies beyond the worker's horizon to the delayed set and acks
  them, atomically. An entry no longer held (restored meanwhile) is left alone.

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4]  delayed set 'celeriac.delayed' (score: due time, epoch ms)

  ARGV[1]         '1' to also remove the tags from the owner hash, '0' not to
  ARGV[3i - 1]    delivery tag of entry i
  ARGV[3i]        due time of entry i, epoch ms
  ARGV[3i + 1]    delayed-set member of entry i: '<queue>SEP<task id>SEP<raw>'

  Returns the number of entries moved.
]]
local moved = 0
for i = 1, (#ARGV - 1) / 3 do
  local tag = ARGV[3 * i - 1]
  if redis.call('HDEL', KEYS[1], tag) == 1 then
    redis.call('ZADD', KEYS[4], ARGV[3 * i], ARGV[3 * i + 1])
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[2], tag)
  if ARGV[1] == '1' then redis.call('HDEL', KEYS[3], tag) end
end
return moved
