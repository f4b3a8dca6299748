--[[
  requeue: hands held entries back to their queues, like kombu's restore of a rejected or
  unfinished message. An entry goes back only if it is still in 'unacked' (so a tag that was
  acked or already restored elsewhere is never pushed twice).

  KEYS[1]        'unacked' hash
  KEYS[2]        'unacked_index' zset
  KEYS[3]        owner hash 'celeriac.held.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4]        started set 'celeriac.started.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4 + i]    queue list of entry i

  ARGV[1]        '1' to also remove the tags from the owner hash, '0' not to
  ARGV[2i]       delivery tag of entry i
  ARGV[2i + 1]   entry i with its redelivered flags set, pushed with RPUSH (taken next)

  Returns the number of entries pushed back.
]]
local pushed = 0
local count = #KEYS - 4
for i = 1, count do
  local tag = ARGV[2 * i]
  if redis.call('HDEL', KEYS[1], tag) == 1 then
    redis.call('RPUSH', KEYS[4 + i], ARGV[2 * i + 1])
    pushed = pushed + 1
  end
  redis.call('ZREM', KEYS[2], tag)
  if ARGV[1] == '1' then
    redis.call('HDEL', KEYS[3], tag)
    redis.call('SREM', KEYS[4], tag)
  end
end
return pushed
