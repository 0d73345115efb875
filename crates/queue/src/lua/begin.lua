-- Start delivered stream entries: decide for each whether it runs. Each entry is judged on its
-- own: a record with a malformed field is dead-lettered alone, naming the field, and the rest
-- of the batch carries on.
-- KEYS: ready, scheduled, dead, workers
-- Jobs start while their bytes (payload, metadata and tags as stored) fit in the worker's
-- budget; once one does not, it and every later entry that would run are deferred, unchanged
-- and still pending under the worker, to be started in order as the budget frees up. When the
-- worker holds nothing (`alone`), the first job starts whatever its size, so none starves.
-- ARGV: prefix, now_ms, group, retention_s, consumer, budget (bytes), alone (1|0), then per
-- entry: entry_id, job_id
-- Returns per entry:
--   { entry_id, job_id, verdict, payload|reason, attempts, deliveries, created_ms, bytes }
--   verdict: 'run' | 'skip' (already finished or cancelled) | 'missing' (no job record) |
--   'expired' | 'malformed' (dead-lettered here; the reason names the field) | 'defer'
local prefix, now, group, retention, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local budget, alone = tonumber(ARGV[6]), ARGV[7] == '1'
local used, started, deferring = 0, 0, false
local out = {}
local function settle(entry)
  redis.call('XACK', KEYS[1], group, entry)
  redis.call('XDEL', KEYS[1], entry)
end
-- The numeric fields of a record, with the most digits each may have: counts fit a u32,
-- times (ms since the epoch) an i64 with room to spare. Absent fields are fine.
local numeric = { { 'attempts', 9 }, { 'deliveries', 9 }, { 'created_at', 15 }, { 'expires_at', 15 } }
local function malformed(f)
  for i, field in ipairs(numeric) do
    local v = f[i + 2]
    if v and not (#v <= field[2] and string.match(v, '^%d+$')) then
      local shown = string.gsub(string.sub(v, 1, 40), '[^%w%p ]', '?')
      return 'malformed record: field ' .. field[1] .. ' is not a whole number of at most '
        .. field[2] .. ' digits: "' .. shown .. '"'
    end
  end
  return nil
end
for i = 8, #ARGV, 2 do
  local entry, id = ARGV[i], ARGV[i + 1]
  local jk = prefix .. ':job:' .. id
  local f = redis.call('HMGET', jk, 'state', 'payload', 'attempts', 'deliveries', 'created_at', 'expires_at')
  local state = f[1]
  local bad = state and malformed(f)
  if not state then
    settle(entry)
    out[#out + 1] = { entry, id, 'missing', 'no job record', 0, 0, 0, 0 }
  elseif state == 'sent' or state == 'cancelled' or state == 'expired' or state == 'dead' then
    settle(entry)
    out[#out + 1] = { entry, id, 'skip', state, 0, 0, 0, 0 }
  elseif bad then
    settle(entry)
    redis.call('HSET', jk, 'state', 'dead', 'last_error', bad, 'finished_at', now, 'updated_at', now)
    redis.call('HDEL', jk, 'entry', 'owner', 'due_at')
    redis.call('ZADD', KEYS[3], now, id)
    out[#out + 1] = { entry, id, 'malformed', bad, 0, 0, 0, 0 }
  elseif f[6] and tonumber(f[6]) < now then
    settle(entry)
    redis.call('HSET', jk, 'state', 'expired', 'finished_at', now, 'updated_at', now,
      'last_error', 'expired before it could be sent')
    redis.call('HDEL', jk, 'payload', 'entry')
    redis.call('EXPIRE', jk, retention)
    out[#out + 1] = { entry, id, 'expired', 'expired', 0, 0, 0, 0 }
  else
    local bytes = redis.call('HSTRLEN', jk, 'payload') + redis.call('HSTRLEN', jk, 'meta')
    if deferring or ((started > 0 or not alone) and used + bytes > budget) then
      deferring = true
      out[#out + 1] = { entry, id, 'defer', '', 0, 0, 0, 0 }
    else
      used, started = used + bytes, started + 1
      local deliveries = redis.call('HINCRBY', jk, 'deliveries', 1)
      redis.call('HSET', jk, 'state', 'in_flight', 'entry', entry, 'owner', consumer,
        'started_at', now, 'updated_at', now)
      out[#out + 1] = { entry, id, 'run', f[2] or '', tonumber(f[3] or '0'), deliveries,
        tonumber(f[5] or '0'), bytes }
    end
  end
end
return out
