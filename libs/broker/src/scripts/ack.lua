--[[
  ack: forgets many delivered entries at once (kombu's ZREM unacked_index + HDEL unacked).

  KEYS[1]    'unacked' hash
  KEYS[2]    'unacked_index' zset
  KEYS[3]    owner hash 'celeriac.held.<ownerId>' (used when ARGV[1] == '1')
  KEYS[4]    started set 'celeriac.started.<ownerId>' (used when ARGV[1] == '1'; usually absent: cheap)

  ARGV[1]    '1' to also remove the tags from the owner hash, '0' not to
  ARGV[2..]  delivery tags

  Returns the number of tags that were still unacked.
]]
local removed = 0
local size = 1000
for i = 2, #ARGV, size do
  local last = math.min(i + size - 1, #ARGV)
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, last))
  removed = removed + redis.call('HDEL', KEYS[1], unpack(ARGV, i, last))
  if ARGV[1] == '1' then
    redis.call('HDEL', KEYS[3], unpack(ARGV, i, last))
    redis.call('SREM', KEYS[4], unpack(ARGV, i, last))
  end
end
return removed
