--[[
  restoreTags: puts back entries that a reader selected by their unacked_index score (visibility
  timeout restore, or a dead owner's held tags). Each entry is pushed back only if its score is
  still the one the reader saw: a tag that was acked, restored or delivered again meanwhile is
  left alone. This is the compare step of kombu's WATCH unacked / HGET / MULTI restore. A tag that
  a live owner holds (one of the guard hashes has it) is left alone too. A tag in the dead owner's
  started set (it was running as a redelivery when the owner died) counts one redelivery; at the
  limit the entry goes to the redelivery-limit list instead of its queue.

  KEYS[1]            'unacked' hash
  KEYS[2]            'unacked_index' zset
  KEYS[3]            owner hash whose fields are removed for every tag (used when ARGV[1] == '1')
  KEYS[4]            redelivery-limit list
  KEYS[5]            the owner's started set (used when ARGV[1] == '1')
  KEYS[5 + g]        g = 1..G: held hashes of live owners (guards)
  KEYS[5 + G + i]    queue list of entry i (the plain list of its queue)

  ARGV[1]            '1' to remove each tag from the owner hash and started set and count, '0' not to
  ARGV[2]            redelivery limit (0 = none)
  ARGV[3]            prefix of the redelivery counters ('celeriac.redeliveries.')
  ARGV[4]            TTL of a redelivery counter, ms
  ARGV[5]            G, the number of guard hashes
  ARGV[3i + 3]       delivery tag of entry i
  ARGV[3i + 4]       the unacked_index score the reader saw for it ('' = none: only clean up)
  ARGV[3i + 5]       entry i with its redelivered flags set ('' = nothing to push)

  Returns {pushed, limited, guarded}.
  countRedelivery and putBack come from redelivery.lua, which load-scripts.ts prepends.
]]
local useOwner = ARGV[1] == '1'
local limit = tonumber(ARGV[2])
local prefix = ARGV[3]
local ttl = ARGV[4]
local guards = tonumber(ARGV[5])
local count = #KEYS - 5 - guards
local pushed, limited, guarded = 0, 0, 0
for i = 1, count do
  local tag = ARGV[3 * i + 3]
  local seen = ARGV[3 * i + 4]
  local raw = ARGV[3 * i + 5]
  local live = false
  for g = 1, guards do
    if redis.call('HEXISTS', KEYS[5 + g], tag) == 1 then
      live = true
      break
    end
  end
  if live then
    guarded = guarded + 1
  else
    local started = useOwner and redis.call('SREM', KEYS[5], tag) == 1
    local score = redis.call('ZSCORE', KEYS[2], tag)
    -- Compared as numbers: Redis prints scores with 17 digits, the reader may have sent fewer.
    if seen ~= '' and score and tonumber(score) == tonumber(seen) then
      redis.call('ZREM', KEYS[2], tag)
      if redis.call('HDEL', KEYS[1], tag) == 1 and raw ~= '' then
        local n = 0
        if started then n = countRedelivery(prefix, tag, ttl) end
        if putBack(KEYS[5 + guards + i], KEYS[4], raw, n, limit) then
          limited = limited + 1
        else
          pushed = pushed + 1
        end
      end
    end
    if useOwner then redis.call('HDEL', KEYS[3], tag) end
  end
end
return {pushed, limited, guarded}
