--[[
  fleetAcquire: takes up to n slots of one fleet concurrency limit. A slot is a member of the
  limit's sorted set scored by its lease expiry (Redis TIME, ms); expired leases (a worker died
  holding them) are dropped first, so a crash never leaks a slot for longer than its lease.

  KEYS[1]  slots zset 'celeriac.fleet.slots.<limit id>[SEP<key value>]': member -> lease expiry, ms

  ARGV[1]  the limit: most slots held at once across the fleet (integer >= 1)
  ARGV[2]  lease, ms (the holder renews it while the task runs)
  ARGV[3..] members wanted, '<owner id>SEP<task id>SEP<delivery tag>', in order

  Returns { granted (the first `granted` members wanted now hold a slot), ms until the earliest
  lease held expires (0 when none is held), slots held after the call }.
]]
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local granted = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    -- Already holds one (a repeated call after a lost reply): it is renewed, not doubled.
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
  elseif held < limit then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
    held = held + 1
  else
    break
  end
  granted = granted + 1
end
local wait = 0
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then wait = math.max(1, tonumber(first[2]) - now) end
if held > 0 then redis.call('PEXPIRE', KEYS[1], lease * 2) end
return { granted, wait, held }
