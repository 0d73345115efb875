-- resume: lifts the pause of a sender (an operator's or Gmail's) at once, and wakes the jobs
-- it held.
-- KEYS: ready, scheduled, dead, workers, ready_v1, the sender's state hash
-- ARGV: prefix, now_ms, sender (normalised: trimmed, lower case)
-- A job held by a pause waits in `scheduled` scored by the pause's end (the worker's gate
-- schedules it there). The ones of this sender (the `from` of the payload in its record) are
-- made due now, so the next promotion hands them to a worker; jobs of other senders due at
-- the same millisecond stay where they are.
-- Returns { 1 if the sender was paused else 0, jobs woken }.
local prefix, now, sender = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local until_ms = tonumber(redis.call('HGET', KEYS[6], 'paused_until') or '')
redis.call('HDEL', KEYS[6], 'paused_until', 'pause_reason')
if not until_ms or until_ms <= now then
  return { 0, 0 }
end

local function trim(s)
  return (string.gsub(s, '^%s*(.-)%s*$', '%1'))
end

-- The bare address of a `from`: `Name <a@b>` or `a@b`, lower case.
local function address(from)
  local inner = string.match(from, '<([^<>]*)>%s*$')
  return string.lower(trim(inner or from))
end

local woken = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], until_ms, until_ms)) do
  local jk = prefix .. ':job:' .. id
  local ok, job = pcall(cjson.decode, redis.call('HGET', jk, 'payload') or '')
  if ok and type(job) == 'table' and type(job.from) == 'string' and address(job.from) == sender then
    redis.call('ZADD', KEYS[2], 'XX', now, id)
    redis.call('HSET', jk, 'due_at', now, 'updated_at', now)
    woken = woken + 1
  end
end
return { 1, woken }
