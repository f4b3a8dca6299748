--[[
  fleetTake: takes up to n tokens from one fleet rate limit's token bucket, by Redis TIME, so every
  worker of the fleet draws on one bucket. The bucket refills at the limit's rate and holds at most
  its capacity (a short burst). One call per batch of tokens, never per task. Also counts grants
  per second in the limit's stats hash, for metrics (current rate, total).

  KEYS[1]  bucket hash 'celeriac.fleet.rate.<limit id>[SEP<key value>]': t (tokens), ts (ms)
  KEYS[2]  stats hash 'celeriac.fleet.stats.<limit id>': w (window second), c (grants in it),
           p (grants in the second before), g (grants in all), at (ms of the last call)

  ARGV[1]  rate, tokens per second (decimal string, > 0)
  ARGV[2]  capacity, most tokens saved up (>= 1)
  ARGV[3]  tokens wanted (integer >= 1)
  ARGV[4]  TTL of the bucket and stats keys, ms

  Returns { granted, ms until the next token (0 when one is left), tokens left * 1000 (integer) }.
]]
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) / 1000 * rate)
end
-- A lowered capacity (the limit was changed) caps what was saved up at once.
if tokens > cap then tokens = cap end
local granted = math.min(want, math.floor(tokens))
if granted < 0 then granted = 0 end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)

local second = math.floor(now / 1000)
local stats = redis.call('HMGET', KEYS[2], 'w', 'c')
local w = tonumber(stats[1])
local c = tonumber(stats[2]) or 0
if w ~= second then
  local p = 0
  if w == second - 1 then p = c end
  redis.call('HSET', KEYS[2], 'w', second, 'c', granted, 'p', p)
else
  redis.call('HINCRBY', KEYS[2], 'c', granted)
end
redis.call('HINCRBY', KEYS[2], 'g', granted)
redis.call('HSET', KEYS[2], 'at', now)
redis.call('PEXPIRE', KEYS[2], ttl)

local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate * 1000) end
return { granted, wait, math.floor(tokens * 1000) }
