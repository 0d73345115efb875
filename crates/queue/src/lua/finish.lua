-- Record an outcome for a delivered job and acknowledge its stream entry, atomically.
-- KEYS: ready, scheduled, dead, workers
-- Only the worker that holds the delivery now may retry, dead-letter or release it: an outcome
-- from a worker whose lease was taken over, or for a delivery already settled, changes nothing.
-- A `sent` is always recorded: the message went out.
-- ARGV: prefix, now_ms, group, entry_id, job_id, outcome, consumer, then outcome arguments:
--   'sent'    retention_s, transport_id, thread_id
--   'retry'   due_ms, error, spend_attempt (1|0)
--   'dead'    reason
--   'release' (hand the job back to the ready stream, no attempt spent)
-- Returns the job's attempts after the change.
local prefix, now, group, entry, id, outcome, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local jk = prefix .. ':job:' .. id
local f = redis.call('HMGET', jk, 'state', 'owner', 'entry')
local state = f[1]
if outcome ~= 'sent' and (f[2] ~= consumer or f[3] ~= entry) then
  return -1
end
local acked = redis.call('XACK', KEYS[1], group, entry)
redis.call('XDEL', KEYS[1], entry)
if not state or (acked == 0 and outcome ~= 'sent') then
  return -1
end
if state == 'cancelled' or state == 'expired' or (state == 'sent' and outcome ~= 'sent') then
  return -1
end
if outcome == 'sent' then
  redis.call('HSET', jk, 'state', 'sent', 'finished_at', now, 'updated_at', now)
  if ARGV[9] ~= '' then redis.call('HSET', jk, 'transport_id', ARGV[9]) end
  if ARGV[10] ~= '' then redis.call('HSET', jk, 'thread_id', ARGV[10]) end
  redis.call('HDEL', jk, 'payload', 'entry', 'owner', 'due_at')
  redis.call('EXPIRE', jk, tonumber(ARGV[8]))
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
elseif outcome == 'retry' then
  if ARGV[10] == '1' then redis.call('HINCRBY', jk, 'attempts', 1) end
  redis.call('HSET', jk, 'state', 'retrying', 'due_at', ARGV[8], 'last_error', ARGV[9], 'updated_at', now)
  redis.call('HDEL', jk, 'entry', 'owner')
  redis.call('ZADD', KEYS[2], tonumber(ARGV[8]), id)
elseif outcome == 'dead' then
  redis.call('HSET', jk, 'state', 'dead', 'last_error', ARGV[8], 'finished_at', now, 'updated_at', now)
  redis.call('HDEL', jk, 'entry', 'owner', 'due_at')
  redis.call('ZADD', KEYS[3], now, id)
elseif outcome == 'release' then
  local e = redis.call('XADD', KEYS[1], '*', 'id', id)
  redis.call('HSET', jk, 'state', 'queued', 'entry', e, 'updated_at', now)
  redis.call('HDEL', jk, 'owner')
  redis.call('HINCRBY', jk, 'deliveries', -1)
else
  return redis.error_reply('unknown outcome ' .. outcome)
end
return tonumber(redis.call('HGET', jk, 'attempts') or '0')
