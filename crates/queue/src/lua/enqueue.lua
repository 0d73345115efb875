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
-- A payload argument `@staged:TOKEN` says the job's payload waits in
-- {prefix}:v2:staged:TOKEN (a hash, field `payload`, with a TTL; TOKEN is the caller's, new
-- for each staging), written there by the caller just before: the job's record is made of
-- that key by RENAME, so a large payload is never copied into Lua (which hashes every byte of
-- a string it is given: about 2 ms per MiB, during which Redis serves no one) nor out of it.
-- Such a job keeps its payload in its record, and a staged key of a duplicate is deleted. A
-- call naming a staged payload that is not there, or one staged payload for two jobs, fails
-- before it writes anything.
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
local job_prefix, done_prefix = prefix .. ':job:', prefix .. ':v2:done:'
-- The done bucket of a job id: its first 10 Crockford base32 characters are the ULID's ms.
-- The jobs of one call mostly share that prefix: the bucket of the last head is passed back in
-- and returned as is when the head repeats.
local function done_key(id, last_head, last_key)
  if #id ~= 26 then return done_prefix .. '0', nil end
  local head = string.sub(id, 1, 10)
  if head == last_head then return last_key, head end
  local ms = 0
  for k = 1, 10 do
    local d = digit[string.byte(head, k)]
    if not d then return done_prefix .. '0', nil end
    ms = ms * 32 + d
  end
  return done_prefix .. string.format('%d', math.floor(ms / 1000)), head
end

local staged_prefix = prefix .. ':v2:staged:'
-- The staged key a payload argument names, or nil when it is the payload itself (a JSON
-- object: it starts with `{`, where `@` is byte 64).
local function staged_key(payload)
  if string.byte(payload, 1) == 64 and string.sub(payload, 1, 8) == '@staged:' then
    return staged_prefix .. string.sub(payload, 9)
  end
  return nil
end
-- Each job's staged key (by job number), found once, and each checked before any write.
local staged_at, staged_seen = {}, {}
for j = 1, (#ARGV - 3) / 6 do
  local key = staged_key(ARGV[j * 6])
  if key then
    if staged_seen[key] or redis.call('EXISTS', key) == 0 then
      return redis.error_reply('ERR no staged payload for job ' .. ARGV[j * 6 - 2] .. ' at ' ..
        key .. (staged_seen[key] and ' (named twice)' or ''))
    end
    staged_seen[key] = true
    staged_at[j] = key
  end
end

-- Each job's id and record key, made once, and which ids are taken, asked for the whole call at
-- once (a call per job costs Redis several times what the lookup does): one EXISTS over the job
-- records (per 500), and one HMGET per done bucket. Only when a record exists is each job's own
-- looked up; an id given twice in one call is a duplicate the second time.
local n = (#ARGV - 3) / 6
local ids, keys = {}, {}
local live = false
local buckets, by_bucket = {}, {}
local head, key = nil, nil
for j = 1, n do
  local id = ARGV[j * 6 - 2]
  ids[j] = id
  keys[j] = job_prefix .. id
  key, head = done_key(id, head, key)
  local list = by_bucket[key]
  if not list then
    list = {}
    by_bucket[key] = list
    buckets[#buckets + 1] = key
  end
  list[#list + 1] = id
end
for from = 1, n, 500 do
  if redis.call('EXISTS', unpack(keys, from, math.min(from + 499, n))) > 0 then
    live = true
    break
  end
end
local done = {}
for _, bucket in ipairs(buckets) do
  local list = by_bucket[bucket]
  for from = 1, #list, 500 do
    local to = math.min(from + 499, #list)
    local found = redis.call('HMGET', bucket, unpack(list, from, to))
    for k = 1, to - from + 1 do
      if found[k] then done[list[from + k - 1]] = true end
    end
  end
end

local seen = {}
local inline_max = 65536
local out = {}
local created = 0
local stream, scheduled = KEYS[1], KEYS[2]
local none = {}
for j = 1, n do
  local i = j * 6 - 2
  local id, idem, payload, meta = ids[j], ARGV[i + 1], ARGV[i + 2], ARGV[i + 5]
  local jk = keys[j]
  local existing = nil
  if idem ~= '' then
    existing = redis.call('GET', prefix .. ':idem:' .. idem)
  end
  if not existing and (seen[id] or done[id]
      or (live and redis.call('EXISTS', jk) == 1)) then
    existing = id
  end
  local staged = staged_at[j]
  if existing then
    if staged then redis.call('UNLINK', staged) end
    out[#out + 1] = existing
    out[#out + 1] = 1
  else
    local due, expires = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    if idem ~= '' then
      redis.call('SET', prefix .. ':idem:' .. idem, id, 'EX', ttl)
    end
    -- The record's fields beyond its state: `created_at`, then what the job has of meta,
    -- idempotency key and expiry. Most jobs have none of these, and share one empty table
    -- rather than each building its own.
    local extra = none
    local has_meta = meta ~= '' and meta ~= '{}'
    if idem ~= '' or expires > 0 or has_meta then
      extra = {}
      if has_meta then extra[#extra + 1] = 'meta'; extra[#extra + 1] = meta end
      if idem ~= '' then extra[#extra + 1] = 'idem'; extra[#extra + 1] = idem end
      if expires > 0 then extra[#extra + 1] = 'expires_at'; extra[#extra + 1] = expires end
    end
    if staged then
      redis.call('RENAME', staged, jk)
      redis.call('PERSIST', jk)
      if due > now then
        redis.call('ZADD', scheduled, due, id)
        redis.call('HSET', jk, 'state', 'scheduled', 'due_at', due, 'created_at', created_at,
          unpack(extra))
      else
        local entry = redis.call('XADD', stream, '*', 'id', id)
        redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'created_at', created_at,
          unpack(extra))
      end
    elseif due > now then
      redis.call('ZADD', scheduled, due, id)
      redis.call('HSET', jk, 'state', 'scheduled', 'due_at', due, 'payload', payload,
        'created_at', created_at, unpack(extra))
    elseif #payload <= inline_max then
      local entry
      if expires > 0 then
        entry = redis.call('XADD', stream, '*', 'id', id, 'p', payload, 'c', created_at, 'x', expires)
      else
        entry = redis.call('XADD', stream, '*', 'id', id, 'p', payload, 'c', created_at)
      end
      redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'created_at', created_at,
        unpack(extra))
    else
      local entry = redis.call('XADD', stream, '*', 'id', id)
      redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'payload', payload,
        'created_at', created_at, unpack(extra))
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
