-- admit: may ARGV[3] send job ARGV[2] now? Gmail's limits as sliding-window logs shared by
-- every worker, so replicas together never exceed them.
--
-- KEYS[1] sender state hash   (quarantined, quarantined_at, paused_until, pause_reason)
-- KEYS[2] sender minute log   (zset: one member per admitted send, scored by its slot, ms)
-- KEYS[3] sender day log
-- KEYS[4] project minute log
-- KEYS[5] the job's reservation (a slot granted earlier, ms)
-- KEYS[6] set of every sender seen
-- ARGV: now ms, job id, sender, per minute, per day, project per minute, quarantine recheck ms
--
-- A send over a limit is not refused: it is given the first future slot the limits allow
-- (a reservation), and the job waits in the schedule until then, holding no worker.
-- Returns {verdict, at ms, reason, minute remaining, day remaining} with verdict one of
-- go | wait | paused | quarantined.
local now = tonumber(ARGV[1])
local member = ARGV[2] .. ':' .. ARGV[1]
local per_minute, per_day, project = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local MINUTE, DAY = 60000, 86400000

redis.call('SADD', KEYS[6], ARGV[3])

-- Forgets sends that left the window; returns the first slot at which one more send keeps
-- every window (t - period, t] at or under `limit`.
local function bound(key, limit, period)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) < limit then
    return now
  end
  local kth = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
  return math.max(now, tonumber(kth[2]) + period)
end

local function left(key, limit, period)
  return limit - redis.call('ZCOUNT', key, '(' .. (now - period), now)
end

local function answer(verdict, at, reason)
  return {verdict, at, reason, left(KEYS[2], per_minute, MINUTE), left(KEYS[3], per_day, DAY)}
end

local state = redis.call('HMGET', KEYS[1], 'quarantined', 'paused_until', 'pause_reason')
-- A sender's state lives a day and an hour past its last use or its pause's end, whichever
-- is later (senders.rs, STATE_KEEP_MS): an idle sender is forgotten, its quarantine with it.
if state[1] or state[2] then
  local until_ms = math.max(now, tonumber(state[2] or '0') or 0)
  redis.call('PEXPIREAT', KEYS[1], until_ms + DAY + 3600000)
end
if state[1] then
  return answer('quarantined', now + tonumber(ARGV[7]), state[1])
end
local paused = tonumber(state[2] or '0') or 0
if paused > now then
  return answer('paused', paused, state[3] or 'paused')
end

local reserved = redis.call('GET', KEYS[5])
if reserved then
  reserved = tonumber(reserved)
  if reserved <= now + 100 then
    redis.call('DEL', KEYS[5])
    return answer('go', now, '')
  end
  return answer('wait', reserved, 'quota')
end

local slot = math.max(
  bound(KEYS[2], per_minute, MINUTE),
  bound(KEYS[3], per_day, DAY),
  bound(KEYS[4], project, MINUTE))
redis.call('ZADD', KEYS[2], slot, member)
redis.call('ZADD', KEYS[3], slot, member)
redis.call('ZADD', KEYS[4], slot, member)
-- A log lives as long as its latest slot stays in its window.
local function keep(key, period)
  local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  redis.call('PEXPIREAT', key, tonumber(top[2]) + period)
end
keep(KEYS[2], MINUTE)
keep(KEYS[3], DAY)
keep(KEYS[4], MINUTE)
if slot <= now then
  return answer('go', now, '')
end
redis.call('SET', KEYS[5], slot, 'PX', slot - now + DAY)
return answer('wait', slot, 'quota')
