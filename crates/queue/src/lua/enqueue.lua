-- Enqueue a batch of jobs atomically.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, dedup_ttl_s, then per job: id, idempotency_key|"", payload, due_ms|0, expires_ms|0, meta_json
-- Returns per job: id (the existing job's id for a duplicate), 1 if duplicate else 0
-- Every job created adds one to the queue-wide counter `enqueued` in {prefix}:counters.
local prefix, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local created = 0
for i = 4, #ARGV, 6 do
  local id, idem, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local due, expires, meta = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), ARGV[i + 5]
  local jk = prefix .. ':job:' .. id
  local existing = nil
  if idem ~= '' then
    existing = redis.call('GET', prefix .. ':idem:' .. idem)
  end
  if not existing and redis.call('EXISTS', jk) == 1 then
    existing = id
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 1
  else
    if idem ~= '' then
      redis.call('SET', prefix .. ':idem:' .. idem, id, 'EX', ttl)
    end
    redis.call('HSET', jk, 'payload', payload, 'attempts', 0, 'deliveries', 0,
      'created_at', now, 'updated_at', now, 'meta', meta, 'idem', idem)
    if expires > 0 then
      redis.call('HSET', jk, 'expires_at', expires)
    end
    if due > now then
      redis.call('ZADD', KEYS[2], due, id)
      redis.call('HSET', jk, 'state', 'scheduled', 'due_at', due)
    else
      local entry = redis.call('XADD', KEYS[1], '*', 'id', id)
      redis.call('HSET', jk, 'state', 'queued', 'entry', entry)
    end
    created = created + 1
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
if created > 0 then
  redis.call('HINCRBY', prefix .. ':counters', 'enqueued', created)
end
return out
