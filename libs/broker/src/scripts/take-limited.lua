--[[
  takeLimited: takes up to ARGV[1] entries off the redelivery-limit list and records each as unacked
  (and in the owner hash), like fetchBatch, so that the worker that dead-letters them holds them
  safely until it has (a crash in between restores them, and they come straight back here).

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[3] == '1')
  KEYS[4]  redelivery-limit list: '<queue>SEP<redeliveries>SEP<raw>' entries

  ARGV[1]  maximum number of entries to take
  ARGV[2]  fetch time, unix seconds as a decimal string
  ARGV[3]  '1' to record the tags in the owner hash, '0' not to

  Returns a flat array: raw, delivery_tag, queue, redeliveries, repeated.
  deliveryTagOf comes from delivery-tag.lua, which load-scripts.ts prepends.
]]
local items = redis.call('RPOP', KEYS[4], tonumber(ARGV[1]))
if not items then return {} end
local now = ARGV[2]
local out = {}
for i, entry in ipairs(items) do
  local a = string.find(entry, '\6\22', 1, true)
  local b = a and string.find(entry, '\6\22', a + 2, true)
  if b then
    local queue = string.sub(entry, 1, a - 1)
    local n = string.sub(entry, a + 2, b - 1)
    local raw = string.sub(entry, b + 2)
    local tag = deliveryTagOf(raw, now, i)
    local tail = ', "", ' .. cjson.encode(queue) .. ']'
    local value = unackedValue(raw, tail)
    redis.call('ZADD', KEYS[2], now, tag)
    redis.call('HSET', KEYS[1], tag, value)
    if ARGV[3] == '1' then redis.call('HSET', KEYS[3], tag, now) end
    out[#out + 1] = raw
    out[#out + 1] = tag
    out[#out + 1] = queue
    out[#out + 1] = n
  end
end
return out
