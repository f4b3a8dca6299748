--[[
  recordDelivery: records one entry that a blocking pop already took as unacked.

  KEYS[1]  'unacked' hash
  KEYS[2]  'unacked_index' zset
  KEYS[3]  owner hash 'celeriac.held.<ownerId>' (used when ARGV[3] == '1')

  ARGV[1]  the raw entry as popped
  ARGV[2]  fetch time, unix seconds as a decimal string
  ARGV[3]  '1' to record the tag in the owner hash, '0' not to
  ARGV[4]  tail of the unacked value: ', "", "<queue>"]'

  Returns the delivery tag.
]]
local raw = ARGV[1]
local now = ARGV[2]
local tag
-- The last '"delivery_tag": "' (or compact) in raw, looked for in the last 256 bytes first, exactly
-- as fetch-batch.lua does (kombu writes the tag into "properties", the envelope's last key).
local function lastTagStart(from)
  local start
  local i = string.find(raw, '"delivery_tag": "', from, true)
  while i do
    start = i + 17
    i = string.find(raw, '"delivery_tag": "', i + 17, true)
  end
  i = string.find(raw, '"delivery_tag":"', from, true)
  while i do
    if not start or i + 16 > start then start = i + 16 end
    i = string.find(raw, '"delivery_tag":"', i + 16, true)
  end
  return start
end
local start
if #raw - 255 > 1 then start = lastTagStart(#raw - 255) end
if not start then start = lastTagStart(1) end
if start then
  local e = string.find(raw, '"', start, true)
  if e and e > start then tag = string.sub(raw, start, e - 1) end
end
if not tag then tag = 'celeriac-untagged-' .. redis.sha1hex(raw) .. '-' .. now .. '-1' end

local value
if string.byte(raw, 1) == 123 then
  value = '[' .. raw .. ARGV[4]
else
  value = '[' .. cjson.encode(raw) .. ARGV[4]
end
redis.call('ZADD', KEYS[2], now, tag)
redis.call('HSET', KEYS[1], tag, value)
if ARGV[3] == '1' then redis.call('HSET', KEYS[3], tag, now) end
return tag
