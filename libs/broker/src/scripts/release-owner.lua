--[[
  releaseOwner: a consumer closing cleanly drops its lease, and, when it holds nothing any more,
  its owner hash and registry entry.

  KEYS[1]      lease 'celeriac.lease.<ownerId>'
  KEYS[2]      owner hash 'celeriac.held.<ownerId>'
  KEYS[3]      owners registry 'celeriac.owners'
  KEYS[4]      started set 'celeriac.started.<ownerId>'
  KEYS[5..]    the owner's in-flight lists

  ARGV[1]      owner id

  Returns 1 when the owner left nothing behind, 0 when a restore must still take something back.
]]
redis.call('DEL', KEYS[1])
if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
for i = 5, #KEYS do
  if redis.call('LLEN', KEYS[i]) > 0 then return 0 end
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
