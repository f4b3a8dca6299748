--[[
  fetchBatch: pops up to ARGV[1] entries over the queue lists and records each one as unacked
  (kombu ack emulation), all in one atomic step.

  KEYS[1]      'unacked' hash: delivery_tag -> '[<envelope>, "", "<queue>"]'
  KEYS[2]      'unacked_index' zset: delivery_tag scored by the fetch time (unix seconds)
  KEYS[3]      owner hash 'celeriac.held.<ownerId>': delivery_tag -> score (used when ARGV[3] == '1')
  KEYS[4..]    queue lists in priority-step-major order: step 0 of every queue, then step 3, ...
               (KEYS[3 + s * n + q] is step s of queue q, n = ARGV[4])

  ARGV[1]      maximum number of entries to pop
  ARGV[2]      fetch time, unix seconds as a decimal string (unacked_index score)
  ARGV[3]      '1' to record the tags in the owner hash KEYS[3], '0' not to
  ARGV[4]      n, the number of queues
  ARGV[5..4+n] per queue q, the tail of its unacked value: ', "", "<queue>"]'
  ARGV[5+n]    '1': strict queue order (queue_order_strategy priority / sorted): each queue of a step
               is emptied before the next is read; absent or '0': round-robin shares inside a step

  Returns a flat array: raw, delivery_tag, key index k, repeated; k - 1 = s * n + (q - 1) for step s
  of queue q (1-based in ARGV order).
  Inside one priority step the queues are served round-robin; a lower step is emptied first.
  deliveryTagOf comes from delivery-tag.lua, which load-scripts.ts prepends.
]]
local max = tonumber(ARGV[1])
local now = ARGV[2]
local useOwner = ARGV[3] == '1'
local n = tonumber(ARGV[4])
local steps = (#KEYS - 3) / n
local strict = ARGV[5 + n] == '1'

local out = {}
local got = 0
local zargs = {}
local hargs = {}
local oargs = {}

local function record(raw, q, s)
  got = got + 1
  local tag = deliveryTagOf(raw, now, got)
  local value = unackedValue(raw, ARGV[4 + q])
  zargs[#zargs + 1] = now
  zargs[#zargs + 1] = tag
  hargs[#hargs + 1] = tag
  hargs[#hargs + 1] = value
  if useOwner then
    oargs[#oargs + 1] = tag
    oargs[#oargs + 1] = now
  end
  out[#out + 1] = raw
  out[#out + 1] = tag
  out[#out + 1] = s * n + q
end

for s = 0, steps - 1 do
  if got >= max then break end
  local active = {}
  for q = 1, n do active[q] = q end
  while got < max and #active > 0 do
    local share = strict and (max - got) or math.ceil((max - got) / #active)
    local still = {}
    for _, q in ipairs(active) do
      local want = math.min(share, max - got)
      if want <= 0 then break end
      local items = redis.call('RPOP', KEYS[3 + s * n + q], want)
      if items then
        for _, raw in ipairs(items) do record(raw, q, s) end
        if #items == want then still[#still + 1] = q end
      end
    end
    active = still
  end
end

-- Batched writes: a few calls with many arguments, chunked to stay inside Lua's stack limit.
local function callChunked(cmd, key, args)
  local size = 1000
  for i = 1, #args, size do
    redis.call(cmd, key, unpack(args, i, math.min(i + size - 1, #args)))
  end
end
if got > 0 then
  callChunked('ZADD', KEYS[2], zargs)
  callChunked('HSET', KEYS[1], hargs)
  if useOwner then callChunked('HSET', KEYS[3], oargs) end
end
return out
