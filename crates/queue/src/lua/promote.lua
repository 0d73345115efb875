-- Move due scheduled jobs to the ready stream, at most `limit` per call.
-- KEYS: ready, scheduled, dead, workers
-- While `limit` or more jobs already wait undelivered in the stream, nothing moves: due jobs then
-- enter as the stream drains, interleaved fairly with jobs enqueued for immediate sending.
-- ARGV: prefix, now_ms, limit, group
-- Returns: { moved, next_due_ms or -1 }
local prefix, now, limit, group = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], group)
local pending = 0
if ok then pending = tonumber(summary[1]) end
if redis.call('XLEN', KEYS[1]) - pending >= limit then
  return { 0, now }
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local jk = prefix .. ':job:' .. id
  local entry = redis.call('XADD', KEYS[1], '*', 'id', id)
  if redis.call('EXISTS', jk) == 1 then
    redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'updated_at', now)
  end
end
if #ids > 0 then
  redis.call('ZREM', KEYS[2], unpack(ids))
end
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
return { #ids, next_due }
