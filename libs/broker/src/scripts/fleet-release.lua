--[[
  fleetRelease: gives back slots of fleet concurrency limits (the tasks holding them finished).

  KEYS[i]  slots zset of the i-th slot
  ARGV[i]  member of the i-th slot

  Returns the number of slots removed (a lease that expired meanwhile is not counted).
]]
local removed = 0
for i = 1, #KEYS do
  removed = removed + redis.call('ZREM', KEYS[i], ARGV[i])
end
return removed
