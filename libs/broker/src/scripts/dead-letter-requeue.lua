--[[
  deadLetterRequeue: publishes dead-letter records' raw entries again (LPUSH onto their queue, like
  a new message) and removes those records; a record whose raw was truncated, or that cannot be
  read, stays. The redelivery counter of a requeued tag is reset.

  KEYS[1]  dead-letter list (newest first)

  ARGV[1]  'index': the record at index ARGV[2] (0 = newest);
           'oldest': up to ARGV[3] records from the oldest end, skipping the ARGV[2] oldest (kept ones)
  ARGV[2]  index, or number of oldest records to skip
  ARGV[3]  most records to look at ('oldest')
  ARGV[4]  prefix of the redelivery counters (with the key prefix)
  ARGV[5]  key prefix (kombu's global_keyprefix) of the queue lists named in the records ('' or absent: none)

  Returns {requeued, kept, examined, why} where why is '' or, for 'index', 'missing', 'truncated'
  or 'unreadable'.
]]
local TOMBSTONE = '\0celeriac-requeued\0'
local function requeue(index)
  local record = redis.call('LINDEX', KEYS[1], index)
  if not record then return 'missing' end
  local ok, r = pcall(cjson.decode, record)
  if not ok or type(r) ~= 'table' or type(r.raw) ~= 'string' or type(r.queue) ~= 'string' or r.queue == '' then
    return 'unreadable'
  end
  if r.raw_truncated == true then return 'truncated' end
  redis.call('LPUSH', (ARGV[5] or '') .. r.queue, r.raw)
  if type(r.delivery_tag) == 'string' and r.delivery_tag ~= '' then redis.call('DEL', ARGV[4] .. r.delivery_tag) end
  redis.call('LSET', KEYS[1], index, TOMBSTONE)
  return ''
end
local requeued, kept, examined, why = 0, 0, 0, ''
if ARGV[1] == 'index' then
  why = requeue(tonumber(ARGV[2]))
  examined = 1
  if why == '' then requeued = 1 elseif why ~= 'missing' then kept = 1 else examined = 0 end
else
  local skip = tonumber(ARGV[2])
  for j = 1, tonumber(ARGV[3]) do
    local result = requeue(-(skip + j))
    if result == 'missing' then break end
    examined = examined + 1
    if result == '' then requeued = requeued + 1 else kept = kept + 1 end
  end
end
if requeued > 0 then redis.call('LREM', KEYS[1], 0, TOMBSTONE) end
return {requeued, kept, examined, why}
