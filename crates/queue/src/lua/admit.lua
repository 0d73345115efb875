-- admit: may these jobs of sender ARGV[2] be sent now? Gmail's limits as sliding-window logs
-- shared by every worker, so replicas together never exceed them. One call decides for every
-- job of the sender a worker has at hand (a fetch round's), granting k of n.
--
-- KEYS[1] sender state hash   (quarantined, quarantined_at, paused_until, pause_reason)
-- KEYS[2] sender minute log   (zset: one member per admitted send, scored by its slot, ms)
-- KEYS[3] sender day log
-- KEYS[4] project minute log
-- KEYS[5] set of every sender seen
-- ARGV: now ms, sender, per minute, per day, project per minute, quarantine recheck ms,
-- reservation key prefix (the job id completes it: a slot granted earlier, ms), then job ids
--
-- A send over a limit is not refused: it is given the first future slot the limits allow
-- (a reservation), and the job waits in the schedule until then, holding no worker.
-- Returns per job {verdict, at ms, reason} with verdict one of go | wait | paused |
-- quarantined, then {minute remaining, day remaining} after the whole batch.
local now = tonumber(ARGV[1])
local per_minute, per_day, project = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local resv = ARGV[7]
local MINUTE, DAY = 60000, 86400000
local logs = { { KEYS[2], per_minute, MINUTE }, { KEYS[3], per_day, DAY }, { KEYS[4], project, MINUTE } }

redis.call('SADD', KEYS[5], ARGV[2])

local function left(key, limit, period)
  return limit - redis.call('ZCOUNT', key, '(' .. (now - period), now)
end

local out = {}
local function finish()
  out[#out + 1] = { left(KEYS[2], per_minute, MINUTE), left(KEYS[3], per_day, DAY) }
  return out
end

local state = redis.call('HMGET', KEYS[1], 'quarantined', 'paused_until', 'pause_reason')
-- A sender's state lives a day and an hour past its last use or its pause's end, whichever
-- is later (senders.rs, STATE_KEEP_MS): an idle sender is forgotten, its quarantine with it.
if state[1] or state[2] then
  local until_ms = math.max(now, tonumber(state[2] or '0') or 0)
  redis.call('PEXPIREAT', KEYS[1], until_ms + DAY + 3600000)
end
local paused = tonumber(state[2] or '0') or 0
if state[1] or paused > now then
  for i = 8, #ARGV do
    if state[1] then
      out[#out + 1] = { 'quarantined', now + tonumber(ARGV[6]), state[1] }
    else
      out[#out + 1] = { 'paused', paused, state[3] or 'paused' }
    end
  end
  return finish()
end

-- Each log forgets sends that left its window once; `count` then follows what this call adds.
-- While every log has room, a job's slot is now and its members wait to be added together;
-- once one is full, the pending members are added and each slot comes from the logs: the
-- first at which one more send keeps every window (t - period, t] at or under its limit.
local count, pending = {}, {}
for k, log in ipairs(logs) do
  redis.call('ZREMRANGEBYSCORE', log[1], '-inf', now - log[3])
  count[k] = redis.call('ZCARD', log[1])
  pending[k] = {}
end
local function flush()
  for k, log in ipairs(logs) do
    if #pending[k] > 0 then
      redis.call('ZADD', log[1], unpack(pending[k]))
      pending[k] = {}
    end
  end
end
local function slot_for()
  local slot = now
  for k, log in ipairs(logs) do
    if count[k] >= log[2] then
      flush()
      local kth = redis.call('ZREVRANGE', log[1], log[2] - 1, log[2] - 1, 'WITHSCORES')
      slot = math.max(slot, tonumber(kth[2]) + log[3])
    end
  end
  return slot
end

local added = false
for i = 8, #ARGV do
  local id = ARGV[i]
  local reserved = redis.call('GET', resv .. id)
  if reserved then
    reserved = tonumber(reserved)
    if reserved <= now + 100 then
      redis.call('DEL', resv .. id)
      out[#out + 1] = { 'go', now, '' }
    else
      out[#out + 1] = { 'wait', reserved, 'quota' }
    end
  else
    local slot = slot_for()
    local member = id .. ':' .. ARGV[1]
    for k = 1, 3 do
      pending[k][#pending[k] + 1] = slot
      pending[k][#pending[k] + 1] = member
      count[k] = count[k] + 1
    end
    added = true
    if slot <= now then
      out[#out + 1] = { 'go', now, '' }
    else
      redis.call('SET', resv .. id, slot, 'PX', slot - now + DAY)
      out[#out + 1] = { 'wait', slot, 'quota' }
    end
  end
end
flush()
if added then
  -- A log lives as long as its latest slot stays in its window.
  for _, log in ipairs(logs) do
    local top = redis.call('ZREVRANGE', log[1], 0, 0, 'WITHSCORES')
    redis.call('PEXPIREAT', log[1], tonumber(top[2]) + log[3])
  end
end
return finish()
