--[[
  storeMany: stores and publishes a batch of result documents, like Celery's
  SETEX celery-task-meta-<id> <expires> <doc> + PUBLISH celery-task-meta-<id> <doc>, where <doc>
  is the document in the result serializer (JSON text or msgpack bytes).

  (no KEYS: the result keys are built from ARGV[2] and the task ids)

  ARGV[1]        expiry in seconds; 0 or less stores without expiry (result_expires = None)
  ARGV[2]        result key prefix, 'celery-task-meta-'
  ARGV[2i + 1]   task id of document i
  ARGV[2i + 2]   document i, encoded (JSON text or msgpack bytes)

  Returns the number of documents stored.
]]
local ttl = tonumber(ARGV[1])
local prefix = ARGV[2]
local count = 0
for i = 3, #ARGV, 2 do
  local key = prefix .. ARGV[i]
  local doc = ARGV[i + 1]
  if ttl > 0 then
    redis.call('SETEX', key, ttl, doc)
  else
    redis.call('SET', key, doc)
  end
  redis.call('PUBLISH', key, doc)
  count = count + 1
end
return count
