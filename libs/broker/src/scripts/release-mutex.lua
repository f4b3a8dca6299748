--[[
  releaseMutex: kombu's compare-and-delete unlock of 'unacked_mutex'.

  KEYS[1]  'unacked_mutex'
  ARGV[1]  the token this process set

  Returns 1 when the lock was ours and is released, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
