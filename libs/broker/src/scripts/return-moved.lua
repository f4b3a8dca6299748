--[[
  returnMoved: gives back entries that the blocking pop moved into this (live) owner's in-flight
  list but that were never delivered (a second lane that also got one, a pop during close, an
  entry whose reply was lost with the connection): off the in-flight list and RPUSHed back onto the
  queue list (taken next), unchanged, atomically.

  KEYS[1]  the owner's in-flight list
  KEYS[2]  the queue list the entries go back to

  ARGV[1..]  raw entries

  Returns the number of entries given back.
]]
local returned = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    returned = returned + 1
  end
end
return returned
