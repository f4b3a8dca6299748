--[[
  restoreTags: puts back entries that a reader selected by their unacked_index score (visibility
  timeout restore, or a dead owner's held tags). Each entry is pushed back only if its score is
  still the one the reader saw: a tag that was acked, restored or delivered again meanwhile is
  left alone. This is the compare step of kombu's WATCH unacked / HGET / MULTI restore.

  KEYS[1]        'unacked' hash
  KEYS[2]        'unacked_index' zset
  KEYS[3]        owner hash whose fields are removed for every tag (used when ARGV[1] == '1')
  KEYS[3 + i]    queue list of entry i

  ARGV[1]        '1' to remove each tag from the owner hash KEYS[3], '0' not to
  ARGV[3i - 1]   delivery tag of entry i
  ARGV[3i]       the unacked_index score the reader saw for it ('' = none: only clean up)
  ARGV[3i + 1]   entry i with its redelivered flags set ('' = nothing to push)

  Returns the number of entries pushed back.
]]
local pushed = 0
local count = #KEYS - 3
for i = 1, count do
  local tag = ARGV[3 * i - 1]
  local seen = ARGV[3 * i]
  local raw = ARGV[3 * i + 1]
  local score = redis.call('ZSCORE', KEYS[2], tag)
  -- Compared as numbers: Redis prints scores with 17 digits, the reader may have sent fewer.
  if seen ~= '' and score and tonumber(score) == tonumber(seen) then
    redis.call('ZREM', KEYS[2], tag)
    if redis.call('HDEL', KEYS[1], tag) == 1 and raw ~= '' then
      redis.call('RPUSH', KEYS[3 + i], raw)
      pushed = pushed + 1
    end
  end
  if ARGV[1] == '1' then redis.call('HDEL', KEYS[3], tag) end
end
return pushed
