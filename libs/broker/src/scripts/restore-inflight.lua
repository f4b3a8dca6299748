--[[
  restoreInflight: puts back what a dead owner's blocking pop had moved into its in-flight list
  and not yet recorded as unacked (the owner died in between, before running it: no redelivery is
  counted). Each entry is taken off the list and pushed back with its redelivered flags (RPUSH:
  taken next). An entry no longer in the list (someone else restored it) is skipped.

  KEYS[1]         the dead owner's in-flight list
  KEYS[2]         the queue list the entries go back to

  ARGV[2i - 1]    entry i as it is in the in-flight list
  ARGV[2i]        entry i with its redelivered flags set

  Returns the number pushed back.
]]
local pushed = 0
for i = 1, #ARGV / 2 do
  if redis.call('LREM', KEYS[1], 1, ARGV[2 * i - 1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[2 * i])
    pushed = pushed + 1
  end
end
return pushed
