-- Record an outcome for a delivered job and acknowledge its stream entry, atomically.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, group, entry_id, job_id, outcome, then outcome arguments:
--   'sent'    retention_s, transport_id, thread_id
--   'retry'   due_ms, error, spend_attempt (1|0)
--   'dead'    reason
--   'release' (hand the job back to the ready stream, no attempt spent)
-- Returns the job's attempts after the change.
local prefix, now, group, entry, id, outcome = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local jk = prefix .. ':job:' .. id
redis.call('XACK', KEYS[1], group, entry)
redis.call('XDEL', KEYS[1], entry)
if redis.call('EXISTS', jk) == 0 then
  return -1
end
local state = redis.call('HGET', jk, 'state')
if state == 'cancelled' or state == 'expired' or (state == 'sent' and outcome ~= 'sent') then
  return -1
end
if outcome == 'sent' then
  redis.call('HSET', jk, 'state', 'sent', 'finished_at', now, 'updated_at', now)
  if ARGV[8] ~= '' then redis.call('HSET', jk, 'transport_id', ARGV[8]) end
  if ARGV[9] ~= '' then redis.call('HSET', jk, 'thread_id', ARGV[9]) end
  redis.call('HDEL', jk, 'payload', 'entry', 'due_at')
  redis.call('EXPIRE', jk, tonumber(ARGV[7]))
elseif outcome == 'retry' then
  if ARGV[9] == '1' then redis.call('HINCRBY', jk, 'attempts', 1) end
  redis.call('HSET', jk, 'state', 'retrying', 'due_at', ARGV[7], 'last_error', ARGV[8], 'updated_at', now)
  redis.call('HDEL', jk, 'entry')
  redis.call('ZADD', KEYS[2], tonumber(ARGV[7]), id)
elseif outcome == 'dead' then
  redis.call('HSET', jk, 'state', 'dead', 'last_error', ARGV[7], 'finished_at', now, 'updated_at', now)
  redis.call('HDEL', jk, 'entry', 'due_at')
  redis.call('ZADD', KEYS[3], now, id)
elseif outcome == 'release' then
  local e = redis.call('XADD', KEYS[1], '*', 'id', id)
  redis.call('HSET', jk, 'state', 'queued', 'entry', e, 'updated_at', now)
  redis.call('HINCRBY', jk, 'deliveries', -1)
else
  return redis.error_reply('unknown outcome ' .. outcome)
end
return tonumber(redis.call('HGET', jk, 'attempts') or '0')
