--[[
  promoteDue: moves delayed entries that are due (by Redis TIME, so workers' clocks do not matter)
  back to the head of their queue (RPUSH: taken next), at most ARGV[1] per call. Run by every
  worker periodically. Entries whose task id is revoked (KEYS[2], when ARGV[2] == '1': a set, sorted
  set or hash of task ids) are dropped and returned instead.

  KEYS[1]  delayed set 'celeriac.delayed': '<queue>SEP<task id>SEP<raw>' scored by due time, epoch ms
  KEYS[2]  revoked task ids (used when ARGV[2] == '1')

  ARGV[1]  most entries to move
  ARGV[2]  '1' to drop revoked tasks, '0' not to
  ARGV[3]  key prefix (kombu's global_keyprefix) of the queue lists named in the members ('' or absent: none)

  Returns {moved, task id, queue, raw, task id, queue, raw, ...} (the dropped entries after the count).
]]
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs, 'LIMIT', 0, tonumber(ARGV[1]))
local rtype = 'none'
if ARGV[2] == '1' and #due > 0 then rtype = redis.call('TYPE', KEYS[2]).ok end
local function revoked(id)
  if rtype == 'set' then return redis.call('SISMEMBER', KEYS[2], id) == 1 end
  if rtype == 'zset' then return redis.call('ZSCORE', KEYS[2], id) ~= false end
  if rtype == 'hash' then return redis.call('HEXISTS', KEYS[2], id) == 1 end
  return false
end
local out = {0}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local a = string.find(member, '\6\22', 1, true)
  local b = a and string.find(member, '\6\22', a + 2, true)
  if b then
    local queue = string.sub(member, 1, a - 1)
    local id = string.sub(member, a + 2, b - 1)
    local raw = string.sub(member, b + 2)
    if revoked(id) then
      out[#out + 1] = id
      out[#out + 1] = queue
      out[#out + 1] = raw
    else
      redis.call('RPUSH', (ARGV[3] or '') .. queue, raw)
      out[1] = out[1] + 1
    end
  end
end
return out
