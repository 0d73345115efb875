-- The rare outcomes of deliveries (protocol v2): a `sent` is recorded by a plain pipeline of
-- commands (see settle.rs); what needs a decision inside Redis comes here, applied atomically.
-- A sent or expired job's record is a done record: a field of its bucket hash
-- {prefix}:v2:done:SECOND (see done.rs); its job hash is gone, so the state checks below see
-- no state and change nothing.
-- KEYS: ready, scheduled, dead, workers
-- Only the worker that holds the delivery now (the consumer the entry is pending under) may
-- retry, dead-letter or release it: an outcome from a worker whose lease was taken over, or for
-- a delivery already settled, changes nothing. A job that leaves the stream takes its payload
-- along: a payload carried by the entry is copied into the job's record first.
-- ARGV: prefix, now_ms, group, then per outcome seven values: entry_id, job_id, outcome,
-- consumer, and three outcome arguments (empty when unused):
--   'retry'     due_ms, error, spend_attempt (1|0)
--   'dead'      reason
--   'release'   (hand the job back to the ready stream, no attempt spent)
--   'suppressed' retention_s, suppressed (JSON: the recipients dropped and why): finished
--               unsent, every recipient being on the suppression list; not a dead letter
--   'duplicate' done bucket, transport_id: a `sent` for a job already recorded as sent: the
--               id is appended to the done record's `d` (`duplicate_ids`; see done.rs), or to
--               a job hash's `duplicate_ids` (a JSON array)
--   'late'      a `sent` recorded after its delivery was settled elsewhere (the job was
--               meanwhile rescheduled or dead-lettered): it leaves those sets
--   'expired'   retention_s, done bucket: a delivery of a job past its expiry, never run: the
--               job hash becomes a done record (state 2) in the bucket, which expires after
--               retention_s (NX, then GT), and the entry is acknowledged
-- Returns per outcome: the job's attempts after a retry, 0 after the other outcomes, -1 when
-- nothing changed.
local prefix, now, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local function keep_payload(jk, entry)
  if redis.call('HEXISTS', jk, 'payload') == 1 then return end
  local rows = redis.call('XRANGE', KEYS[1], entry, entry)
  if not rows[1] then return end
  local fields = rows[1][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'p' then
      redis.call('HSET', jk, 'payload', fields[j + 1])
    end
  end
end

-- A job id's ULID timestamp (ms): its first 10 Crockford base32 characters; 0 for an id that
-- is not a ULID (as done.rs's ulid_ms).
local crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local function ulid_ms(id)
  if #id ~= 26 then return 0 end
  local ms = 0
  for k = 1, 10 do
    local d = string.find(crockford, string.upper(string.sub(id, k, k)), 1, true)
    if not d then return 0 end
    ms = ms * 32 + (d - 1)
  end
  return ms
end

-- Records an expired job as a done record: [2, finished_at, deliveries, attempts,
-- created_at, '', '', {m = meta, x = expires_at}] in its bucket (the two times in ms after the
-- id's ULID timestamp), and drops its hash.
-- f: the job hash's state, deliveries, attempts, created_at, meta, expires_at.
local function write_expired(id, jk, retention, bucket, f)
  local base = ulid_ms(id)
  local rec = { 2, now - base, tonumber(f[2]) or 0, tonumber(f[3]) or 0,
    (tonumber(f[4]) or base) - base, '', '' }
  local extras, any = {}, false
  if f[5] then
    local ok, meta = pcall(cjson.decode, f[5])
    if ok and type(meta) == 'table' then extras.m = meta; any = true end
  end
  if tonumber(f[6]) then extras.x = tonumber(f[6]); any = true end
  if any then rec[8] = extras end
  redis.call('HSETNX', bucket, id, cjson.encode(rec))
  redis.call('EXPIRE', bucket, retention, 'NX')
  redis.call('EXPIRE', bucket, retention, 'GT')
  redis.call('DEL', jk)
end

-- An expired delivery: the record (when the job hash is there), then the entry's ack.
local function expire(entry, id, jk, retention, bucket)
  local f = redis.call('HMGET', jk, 'state', 'deliveries', 'attempts', 'created_at', 'meta',
    'expires_at')
  if f[1] then
    write_expired(id, jk, retention, bucket, f)
  end
  local acked = redis.call('XACK', KEYS[1], group, entry)
  redis.call('XDEL', KEYS[1], entry)
  if acked == 0 then return -1 end
  return 0
end

local function finish(entry, id, outcome, consumer, a1, a2, a3)
  local jk = prefix .. ':job:' .. id
  if outcome == 'duplicate' then
    if append_to_done(a1, id, 'd', { a2 }) then return 0 end
    local ids = redis.call('HGET', jk, 'duplicate_ids')
    ids = ids and cjson.decode(ids) or {}
    ids[#ids + 1] = a2
    redis.call('HSET', jk, 'duplicate_ids', cjson.encode(ids), 'updated_at', now)
    return 0
  elseif outcome == 'late' then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    return 0
  elseif outcome == 'expired' then
    return expire(entry, id, jk, tonumber(a1), a2)
  end
  local mine = redis.call('XPENDING', KEYS[1], group, entry, entry, 1)
  if not mine[1] or mine[1][2] ~= consumer then
    return -1
  end
  -- The record counts the deliveries of the job's earlier stream entries; this entry's count
  -- (a release hands back one that did not count) joins them as the entry goes.
  local delivered = tonumber(mine[1][4])
  if outcome == 'release' then delivered = delivered - 1 end
  local state = redis.call('HGET', jk, 'state')
  if not state or state == 'cancelled' or state == 'expired' or state == 'sent' then
    redis.call('XACK', KEYS[1], group, entry)
    redis.call('XDEL', KEYS[1], entry)
    return -1
  end
  keep_payload(jk, entry)
  local before = redis.call('HGET', jk, 'deliveries')
  if delivered ~= 0 and (not before or string.match(before, '^%d+$')) then
    redis.call('HINCRBY', jk, 'deliveries', delivered)
  end
  redis.call('XACK', KEYS[1], group, entry)
  redis.call('XDEL', KEYS[1], entry)
  if outcome == 'retry' then
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
    redis.call('HSET', jk, 'state', 'suppressed', 'suppressed', a2, 'finished_at', now,
      'updated_at', now)
    redis.call('HDEL', jk, 'payload', 'entry', 'owner', 'due_at')
    redis.call('EXPIRE', jk, tonumber(a1))
    return 0
  elseif outcome == 'release' then
    local e = redis.call('XADD', KEYS[1], '*', 'id', id)
    redis.call('HSET', jk, 'state', 'queued', 'entry', e, 'updated_at', now)
    redis.call('HDEL', jk, 'owner')
    return 0
  end
  error('unknown outcome ' .. outcome)
end

local out = {}
for i = 4, #ARGV, 7 do
  out[#out + 1] = finish(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
end
return out
