--[[
  markStarted: the owner is about to run these held (redelivered) entries: it records them, so
  that if it dies while they run, the restore counts a redelivery for them (and only for them: an
  entry that was merely prefetched is not counted). Returns each tag's redelivery count so far.

  KEYS[1]    started set 'celeriac.started.<ownerId>'

  ARGV[1]    prefix of the redelivery counters ('celeriac.redeliveries.')
  ARGV[2..]  delivery tags

  Returns the counts, in ARGV order.
]]
local out = {}
for i = 2, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
for i = 2, #ARGV do
  out[#out + 1] = tonumber(redis.call('GET', ARGV[1] .. ARGV[i]) or '0')
end
return out
