-- Enqueue a batch of jobs atomically (protocol v2).
-- KEYS: ready (the v2 stream), scheduled, dead, workers
-- ARGV: prefix, now_ms, dedup_ttl_s, then per job: id, idempotency_key|"", payload, due_ms|0, expires_ms|0, meta_json
-- Returns per job: id (the existing job's id for a duplicate), 1 if duplicate else 0
-- Every job created adds one to the queue-wide counter `enqueued` in {prefix}:counters.
--
-- A job to send now is stored once: its payload travels in its stream entry (field `p`) and
-- its record is a small status hash. Such an entry also carries its record's `created_at` (field
-- `c`) and `expires_at` (field `x`, when set), so that a worker's first delivery of it needs no
-- read of the record. A job for later, or one whose payload is over 64 KiB,
-- keeps its payload in the record and its entry carries only its id, so a worker reads a large
-- job only when it has room for it.
--
-- A job id already in use, by a job record or by a finished job's done record (a field of
-- {prefix}:v2:done:SECOND, SECOND being the unix second of the id's ULID timestamp), is a
-- duplicate.
local prefix, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
-- `created_at` as given when it is decimal digits: a Lua number is formatted anew for each
-- job it is written for.
local created_at = string.match(ARGV[2], '^%d+$') and ARGV[2] or now
-- Each Crockford base32 digit's value, by byte, either case: a table lookup per character is
-- several times cheaper in Lua than searching the alphabet for it.
local digit = {}
for k = 1, 32 do
  local c = string.sub('0123456789ABCDEFGHJKMNPQRSTVWXYZ', k, k)
  digit[string.byte(c)] = k - 1
  digit[string.byte(string.lower(c))] = k - 1
end

-- The done bucket of a job id: its first 10 Crockford base32 characters are the ULID's ms.
-- The jobs of one call mostly share that prefix: the last one's bucket is kept.
local last_ms, last_key = nil, nil
local function done_key(id)
  if #id ~= 26 then return prefix .. ':v2:done:0' end
  local head = string.sub(id, 1, 10)
  if head == last_ms then return last_key end
  local ms = 0
  for k = 1, 10 do
    local d = digit[string.byte(head, k)]
    if not d then return prefix .. ':v2:done:0' end
    ms = ms * 32 + d
  end
  last_ms, last_key = head, prefix .. ':v2:done:' .. string.format('%d', math.floor(ms / 1000))
  return last_key
end

-- Which ids are taken, asked for the whole call at once (a call per job costs Redis several
-- times what the lookup does): one EXISTS over the job records (per 500), and one HMGET per
-- done bucket. Only when a record exists is each job's own looked up; an id given twice in one
-- call is a duplicate the second time.
local function records_exist()
  local keys = {}
  for i = 4, #ARGV, 6 do
    keys[#keys + 1] = prefix .. ':job:' .. ARGV[i]
    if #keys == 500 or i + 6 > #ARGV then
      if redis.call('EXISTS', unpack(keys)) > 0 then return true end
      keys = {}
    end
  end
  return false
end
local function done_ids()
  local by_bucket, buckets = {}, {}
  for i = 4, #ARGV, 6 do
    local key = done_key(ARGV[i])
    if not by_bucket[key] then
      by_bucket[key] = {}
      buckets[#buckets + 1] = key
    end
    local ids = by_bucket[key]
    ids[#ids + 1] = ARGV[i]
  end
  local done = {}
  for _, key in ipairs(buckets) do
    local ids = by_bucket[key]
    for from = 1, #ids, 500 do
      local part = { unpack(ids, from, math.min(from + 499, #ids)) }
      local found = redis.call('HMGET', key, unpack(part))
      for k = 1, #part do
        if found[k] then done[part[k]] = true end
      end
    end
  end
  return done
end
local live = records_exist()
local done = done_ids()
local seen = {}

local inline_max = 65536
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
  if not existing and (seen[id] or done[id]
      or (live and redis.call('EXISTS', jk) == 1)) then
    existing = id
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 1
  else
    if idem ~= '' then
      redis.call('SET', prefix .. ':idem:' .. idem, id, 'EX', ttl)
    end
    local f = { 'created_at', created_at }
    if meta ~= '' and meta ~= '{}' then f[#f + 1] = 'meta'; f[#f + 1] = meta end
    if idem ~= '' then f[#f + 1] = 'idem'; f[#f + 1] = idem end
    if expires > 0 then f[#f + 1] = 'expires_at'; f[#f + 1] = expires end
    if due > now then
      redis.call('ZADD', KEYS[2], due, id)
      redis.call('HSET', jk, 'state', 'scheduled', 'due_at', due, 'payload', payload, unpack(f))
    else
      local entry
      if #payload <= inline_max then
        if expires > 0 then
          entry = redis.call('XADD', KEYS[1], '*', 'id', id, 'p', payload, 'c', created_at, 'x', expires)
        else
          entry = redis.call('XADD', KEYS[1], '*', 'id', id, 'p', payload, 'c', created_at)
        end
        redis.call('HSET', jk, 'state', 'queued', 'entry', entry, unpack(f))
      else
        entry = redis.call('XADD', KEYS[1], '*', 'id', id)
        redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'payload', payload, unpack(f))
      end
    end
    seen[id] = true
    created = created + 1
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
if created > 0 then
  redis.call('HINCRBY', prefix .. ':counters', 'enqueued', created)
end
return out
