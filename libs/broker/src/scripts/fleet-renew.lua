--[[
  fleetRenew: extends the leases of slots still held by running tasks (Redis TIME + lease), only
  for members still present: a lease that expired (the worker stalled past it) is not recreated.

  KEYS[i]      slots zset of the i-th slot
  ARGV[1]      lease, ms
  ARGV[i + 1]  member of the i-th slot

  Returns the number of leases renewed.
]]
local lease = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local renewed = 0
for i = 1, #KEYS do
  renewed = renewed + redis.call('ZADD', KEYS[i], 'XX', 'CH', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], lease * 2)
end
return renewed
