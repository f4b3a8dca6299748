--[[
  storeMany: stores and publishes a batch of result documents, like Celery's
  SETEX celery-task-meta-<id> <expires> <json> + PUBLISH celery-task-meta-<id> <json>.

  (no KEYS: the result keys are built from ARGV[2] and the task ids)

  ARGV[1]        expiry in seconds; 0 or less stores without expiry (result_expires = None)
  ARGV[2]        result key prefix, 'celery-task-meta-'
  ARGV[2i + 1]   task id of document i
  ARGV[2i + 2]   JSON text of document i

  Returns the number of documents stored.
]]
local ttl = tonumber(ARGV[1])
local prefix = ARGV[2]
local count = 0
for i = 3, #ARGV, 2 do
  local key = prefix .. ARGV[i]
  local json = ARGV[i + 1]
  if ttl > 0 then
    redis.call('SETEX', key, ttl, json)
  else
    redis.call('SET', key, json)
  end
  redis.call('PUBLISH', key, json)
  count = count + 1
end
return count
