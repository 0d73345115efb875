-- Start delivered stream entries: decide for each whether it runs.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, group, retention_s, consumer, then per entry: entry_id, job_id
-- Returns per entry: { entry_id, job_id, verdict, payload|reason, attempts, deliveries, created_ms }
--   verdict: 'run' | 'skip' (already finished or cancelled) | 'missing' (no job record) | 'expired'
local prefix, now, group, retention, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local out = {}
local function settle(entry)
  redis.call('XACK', KEYS[1], group, entry)
  redis.call('XDEL', KEYS[1], entry)
end
for i = 6, #ARGV, 2 do
  local entry, id = ARGV[i], ARGV[i + 1]
  local jk = prefix .. ':job:' .. id
  local f = redis.call('HMGET', jk, 'state', 'payload', 'attempts', 'expires_at', 'created_at')
  local state = f[1]
  if not state then
    settle(entry)
    out[#out + 1] = { entry, id, 'missing', 'no job record', 0, 0, 0 }
  elseif state == 'sent' or state == 'cancelled' or state == 'expired' or state == 'dead' then
    settle(entry)
    out[#out + 1] = { entry, id, 'skip', state, 0, 0, 0 }
  elseif f[4] and tonumber(f[4]) < now then
    settle(entry)
    redis.call('HSET', jk, 'state', 'expired', 'finished_at', now, 'updated_at', now,
      'last_error', 'expired before it could be sent')
    redis.call('HDEL', jk, 'payload', 'entry')
    redis.call('EXPIRE', jk, retention)
    out[#out + 1] = { entry, id, 'expired', 'expired', 0, 0, 0 }
  else
    local deliveries = redis.call('HINCRBY', jk, 'deliveries', 1)
    redis.call('HSET', jk, 'state', 'in_flight', 'entry', entry, 'owner', consumer,
      'started_at', now, 'updated_at', now)
    out[#out + 1] = { entry, id, 'run', f[2] or '', tonumber(f[3] or '0'), deliveries, tonumber(f[5] or '0') }
  end
end
return out
