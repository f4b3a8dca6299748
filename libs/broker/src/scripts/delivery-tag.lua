--[[
  Shared helpers, prepended by load-scripts.ts to the scripts that record deliveries
  (fetch-batch.lua, record-delivery.lua, record-moved.lua, take-limited.lua). Defines no KEYS or ARGV of its own.
]]

-- Where the tag value starts after the last '"delivery_tag": "' (or compact '"delivery_tag":"')
-- at or after byte `from`, or nil.
local function lastTagStart(raw, from)
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

-- The delivery tag of a raw entry, found with a plain (non-pattern) search. kombu writes the tag
-- into "properties", the envelope's last key, so the last 256 bytes are searched first and the
-- whole ~1 KB entry only when needed. An entry without a tag still gets a unique handle (from
-- its hash, the fetch time and its index in the call) so that it can be acked or dead-lettered.
local function deliveryTagOf(raw, now, index)
  local start
  if #raw - 255 > 1 then start = lastTagStart(raw, #raw - 255) end
  if not start then start = lastTagStart(raw, 1) end
  if start then
    local e = string.find(raw, '"', start, true)
    if e and e > start then return string.sub(raw, start, e - 1) end
  end
  return 'celeriac-untagged-' .. redis.sha1hex(raw) .. '-' .. now .. '-' .. index
end

-- kombu's unacked value for a raw entry: '[<message>, "", "<queue>"]', where `tail` is
-- ', "", "<queue>"]'. An entry that is a JSON object goes in as it is (no re-encoding); anything
-- else is stored as a JSON string, as kombu would.
local function unackedValue(raw, tail)
  if string.byte(raw, 1) == 123 then return '[' .. raw .. tail end
  return '[' .. cjson.encode(raw) .. tail
end
