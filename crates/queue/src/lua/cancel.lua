-- Cancel a job that has not started sending.
-- KEYS: ready, scheduled, dead, workers, ready_v1
-- ARGV: prefix, now_ms, group, job_id, retention_s, the job's done bucket ({NAME}:v2:done:SECOND)
-- Returns 'cancelled', 'not_found', 'in_flight' (a worker holds its delivery), or the state
-- that prevents it (a job with a done record is finished: 'sent' or 'expired').
local prefix, now, group, id, retention = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local jk = prefix .. ':job:' .. id
local f = redis.call('HMGET', jk, 'state', 'entry')
local state, entry = f[1], f[2]
if not state then
  local done = redis.call('HGET', ARGV[6], id)
  if not done then return 'not_found' end
  if string.sub(done, 1, 3) == '[2,' then return 'expired' end
  return 'sent'
end
if state ~= 'queued' and state ~= 'scheduled' and state ~= 'retrying' then return state end
if entry then
  local ok, held = pcall(redis.call, 'XPENDING', KEYS[1], group, entry, entry, 1)
  if ok and held[1] then return 'in_flight' end
  redis.call('XDEL', KEYS[1], entry)
end
redis.call('ZREM', KEYS[2], id)
redis.call('HSET', jk, 'state', 'cancelled', 'finished_at', now, 'updated_at', now)
redis.call('HDEL', jk, 'payload', 'entry', 'due_at')
redis.call('EXPIRE', jk, retention)
return 'cancelled'
