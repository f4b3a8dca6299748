--[[
  renewLease: renews a live owner's lease and refreshes what it holds, so that no restore (ours by
  lease, or a Python worker's by kombu's visibility timeout) takes back a message its owner still
  works on: every tag of the owner hash whose unacked_index score is still the one the owner
  recorded gets the current time as its score, in both places. A field whose score differs (the
  tag was restored and went to someone else) is dropped from the owner hash.

  KEYS[1]  lease 'celeriac.lease.<ownerId>'
  KEYS[2]  owner hash 'celeriac.held.<ownerId>'
  KEYS[3]  'unacked_index' zset
  KEYS[4]  owners registry 'celeriac.owners'
  KEYS[5]  started set 'celeriac.started.<ownerId>' (members no longer held are dropped)

  ARGV[1]  owner id
  ARGV[2]  lease TTL, ms
  ARGV[3]  now, unix seconds as a decimal string
  ARGV[4]  the owner's registry value, JSON {"queues": [...], "at": ms}

  Returns the number of tags refreshed.
]]
local now = ARGV[3]
redis.call('SET', KEYS[1], now, 'PX', tonumber(ARGV[2]))
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
local held = redis.call('HGETALL', KEYS[2])
local zargs, hargs, stale = {}, {}, {}
for i = 1, #held, 2 do
  local tag = held[i]
  local score = redis.call('ZSCORE', KEYS[3], tag)
  if score and tonumber(score) == tonumber(held[i + 1]) then
    zargs[#zargs + 1] = now
    zargs[#zargs + 1] = tag
    hargs[#hargs + 1] = tag
    hargs[#hargs + 1] = now
  else
    stale[#stale + 1] = tag
  end
end
local function callChunked(cmd, key, args, step)
  for i = 1, #args, step do
    redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end
callChunked('ZADD', KEYS[3], zargs, 1000)
callChunked('HSET', KEYS[2], hargs, 1000)
callChunked('HDEL', KEYS[2], stale, 1000)
local gone = {}
for _, tag in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  if redis.call('HEXISTS', KEYS[2], tag) == 0 then gone[#gone + 1] = tag end
end
callChunked('SREM', KEYS[5], gone, 1000)
return #zargs / 2
