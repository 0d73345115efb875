-- Record outcomes for delivered jobs and acknowledge their stream entries; each outcome is
-- applied atomically (the whole batch runs as one script).
-- KEYS: ready, scheduled, dead, workers
-- Only the worker that holds the delivery now may retry, dead-letter or release it: an outcome
-- from a worker whose lease was taken over, or for a delivery already settled, changes nothing.
-- A `sent` is always recorded: the message went out. The first `sent` of a job sets its
-- `transport_id`; a later one (both copies went out after a lease takeover) never replaces it:
-- its id is appended to `duplicate_ids` (a JSON array) and the answer says it was a duplicate.
-- ARGV: prefix, now_ms, group, then per outcome seven values: entry_id, job_id, outcome,
-- consumer, and three outcome arguments (empty when unused):
--   'sent'    retention_s, transport_id, thread_id
--   'retry'   due_ms, error, spend_attempt (1|0)
--   'dead'    reason
--   'release' (hand the job back to the ready stream, no attempt spent)
--   'suppressed' retention_s, suppressed (JSON: the recipients dropped and why)
-- Returns per outcome: the job's attempts after a retry, 0 after the other outcomes, 1 after a
-- `sent` for a job already recorded as sent (a duplicate send), -1 when nothing changed.
local prefix, now, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local function finish(entry, id, outcome, consumer, a1, a2, a3)
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
  if outcome == 'sent' and state == 'sent' then
    local ids = redis.call('HGET', jk, 'duplicate_ids')
    ids = ids and cjson.decode(ids) or {}
    ids[#ids + 1] = a2
    redis.call('HSET', jk, 'duplicate_ids', cjson.encode(ids), 'updated_at', now)
    return 1
  elseif outcome == 'sent' then
    redis.call('HSET', jk, 'state', 'sent', 'finished_at', now, 'updated_at', now,
      'transport_id', a2, 'thread_id', a3)
    redis.call('HDEL', jk, 'payload', 'entry', 'owner', 'due_at')
    redis.call('EXPIRE', jk, tonumber(a1))
    if state ~= 'in_flight' then
      -- A late `sent` for a job meanwhile rescheduled or dead-lettered: it is sent now.
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
    end
    return 0
  elseif outcome == 'retry' then
    local attempts = 0
    if a3 == '1' then
      attempts = redis.call('HINCRBY', jk, 'attempts', 1)
    else
      attempts = tonumber(redis.call('HGET', jk, 'attempts') or '0')
    end
    redis.call('HSET', jk, 'state', 'retrying', 'due_at', a1, 'last_error', a2, 'updated_at', now)
    redis.call('HDEL', jk, 'entry', 'owner')
    redis.call('ZADD', KEYS[2], tonumber(a1), id)
    return attempts
  elseif outcome == 'dead' then
    redis.call('HSET', jk, 'state', 'dead', 'last_error', a1, 'finished_at', now, 'updated_at', now)
    redis.call('HDEL', jk, 'entry', 'owner', 'due_at')
    redis.call('ZADD', KEYS[3], now, id)
    return 0
  elseif outcome == 'suppressed' then
    -- Every recipient is on the suppression list: finished unsent, not a dead letter.
    redis.call('HSET', jk, 'state', 'suppressed', 'suppressed', a2, 'finished_at', now,
      'updated_at', now)
    redis.call('HDEL', jk, 'payload', 'entry', 'owner', 'due_at')
    redis.call('EXPIRE', jk, tonumber(a1))
    return 0
  elseif outcome == 'release' then
    local e = redis.call('XADD', KEYS[1], '*', 'id', id)
    redis.call('HSET', jk, 'state', 'queued', 'entry', e, 'updated_at', now)
    redis.call('HDEL', jk, 'owner')
    redis.call('HINCRBY', jk, 'deliveries', -1)
    return 0
  end
  error('unknown outcome ' .. outcome)
end

local out = {}
for i = 4, #ARGV, 7 do
  out[#out + 1] = finish(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
end
return out
