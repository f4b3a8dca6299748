--[[
  Shared helpers, prepended by load-scripts.ts to restore-tags.lua. Defines no KEYS or ARGV of its own.
]]

-- kombu's separator, between the queue, the count and the raw entry of a redelivery-limit entry.
local SEP = '\6\22'

-- Counts one more redelivery of `tag` in '<prefix><tag>' (a string with a TTL) and returns the count.
local function countRedelivery(prefix, tag, ttlMs)
  if tag == '' then return 0 end
  local key = prefix .. tag
  local n = redis.call('INCR', key)
  redis.call('PEXPIRE', key, ttlMs)
  return n
end

-- Puts `raw` back onto `queueKey` (RPUSH: taken next), or, once it counted `limit` redeliveries,
-- onto the redelivery-limit list for a worker to dead-letter. Returns true when it went to that list.
local function putBack(queueKey, limitKey, raw, n, limit)
  if limit > 0 and n >= limit then
    redis.call('LPUSH', limitKey, queueKey .. SEP .. n .. SEP .. raw)
    return true
  end
  redis.call('RPUSH', queueKey, raw)
  return false
end
