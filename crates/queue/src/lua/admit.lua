-- admit: may these jobs of sender ARGV[2] be sent now? Gmail's limits as windows of counters
-- shared by every worker, so replicas together never exceed them. One call decides for every
-- job of the sender a worker has at hand (a fetch round's), granting k of n.
--
-- KEYS[1] sender state hash   (quarantined, quarantined_at, paused_until, pause_reason)
-- KEYS[2] sender minute counts (hash: bucket number to sends counted in it)
-- KEYS[3] sender day counts
-- KEYS[4] project minute counts
-- KEYS[5] set of every sender seen
-- ARGV: now ms, sender, per minute, per day, project per minute, quarantine recheck ms,
-- reservation key prefix (the job id completes it: a slot granted earlier, ms), the minute
-- windows' bucket size (ms) and span (buckets), the day window's, then job ids (the shapes
-- come from windows.rs, which reads these keys with the same arithmetic)
--
-- A window counts sends in buckets: bucket b holds the sends whose slot (ms) lies in
-- [b * size, (b + 1) * size), and it counts until `span` whole buckets have passed after it,
-- that is until (b + span + 1) * size. So a send counts for at least its window and at most one
-- bucket longer (1 s for the minute windows, 15 min for the day), never less: the limits hold
-- for every sliding window, at the price of that much precision.
--
-- A send over a limit is not refused: it is given the first future slot the limits allow
-- (a reservation), and the job waits in the schedule until then, holding no worker.
-- Returns {minute remaining, day remaining (after the whole batch, slots reserved for waiting
-- jobs counted), verdicts, details...}:
-- `verdicts` has one letter per job, in order: g (go now), w (wait for a quota slot: one
-- detail, the slot's ms), p (the sender is paused) or q (quarantined), each with two details,
-- until when (ms) and why. A flat answer, because Redis converts nested Lua tables slowly.
local now = tonumber(ARGV[1])
local resv = ARGV[7]
local DAY = 86400000
local minute_size, minute_span = tonumber(ARGV[8]), tonumber(ARGV[9])
local logs = {
  { key = KEYS[2], limit = tonumber(ARGV[3]), size = minute_size, span = minute_span },
  { key = KEYS[3], limit = tonumber(ARGV[4]), size = tonumber(ARGV[10]), span = tonumber(ARGV[11]) },
  { key = KEYS[4], limit = tonumber(ARGV[5]), size = minute_size, span = minute_span },
}
local first_job = 12


local verdicts, details = {}, {}
local state = redis.call('HMGET', KEYS[1], 'quarantined', 'paused_until', 'pause_reason')
-- A sender's state lives a day and an hour past its last use or its pause's end, whichever
-- is later (senders.rs, STATE_KEEP_MS): an idle sender is forgotten, its quarantine with it.
if state[1] or state[2] then
  local until_ms = math.max(now, tonumber(state[2] or '0') or 0)
  redis.call('PEXPIREAT', KEYS[1], until_ms + DAY + 3600000)
end

-- Each window's live buckets, oldest first, as {bucket, count}; `n` their sum (future slots
-- reserved for waiting jobs included). Buckets that stopped counting are deleted.
local function load(log)
  local flat = redis.call('HGETALL', log.key)
  local from = math.floor(now / log.size) - log.span
  local buckets, stale, n = {}, {}, 0
  for i = 1, #flat, 2 do
    local b, c = tonumber(flat[i]), tonumber(flat[i + 1])
    if b and c and b >= from then
      buckets[#buckets + 1] = { b, c }
      n = n + c
    else
      stale[#stale + 1] = flat[i]
    end
  end
  if #stale > 0 then redis.call('HDEL', log.key, unpack(stale)) end
  table.sort(buckets, function(x, y) return x[1] < y[1] end)
  log.buckets, log.n, log.added = buckets, n, {}
end

-- What is left of a window: its limit minus every send it counts, the slots reserved for
-- waiting jobs included, as the next job is judged.
local function left(log)
  return math.max(0, log.limit - log.n)
end

local function answer()
  return { left(logs[1]), left(logs[2]), table.concat(verdicts), unpack(details) }
end

for _, log in ipairs(logs) do load(log) end
-- A sender without a send counted in the last day may be new to the set of senders.
if #logs[2].buckets == 0 then redis.call('SADD', KEYS[5], ARGV[2]) end

local jobs = #ARGV - first_job + 1
local paused = tonumber(state[2] or '0') or 0
if state[1] or paused > now then
  for _ = 1, jobs do
    if state[1] then
      verdicts[#verdicts + 1] = 'q'
      details[#details + 1] = now + tonumber(ARGV[6])
      details[#details + 1] = state[1]
    else
      verdicts[#verdicts + 1] = 'p'
      details[#details + 1] = paused
      details[#details + 1] = state[3] or 'paused'
    end
  end
  return answer()
end

-- The first slot at which one more send keeps every window at or under its limit: while a
-- window is full, the time its oldest buckets stop counting, enough of them to make room.
local function slot_for()
  local slot = now
  for _, log in ipairs(logs) do
    if log.n >= log.limit then
      local need, dropped, at = log.n - log.limit + 1, 0, nil
      for _, e in ipairs(log.buckets) do
        dropped = dropped + e[2]
        if dropped >= need then
          at = (e[1] + log.span + 1) * log.size
          break
        end
      end
      slot = math.max(slot, at or (now + (log.span + 1) * log.size))
    end
  end
  return slot
end

-- Counts `k` sends at `slot` in a window, keeping its buckets in order.
local function count(log, slot, k)
  local b = math.floor(slot / log.size)
  local buckets, i = log.buckets, #log.buckets
  while i > 0 and buckets[i][1] > b do i = i - 1 end
  if i > 0 and buckets[i][1] == b then
    buckets[i][2] = buckets[i][2] + k
  else
    table.insert(buckets, i + 1, { b, k })
    if i == #buckets - 1 then log.newest = b end
  end
  log.n = log.n + k
  log.added[b] = (log.added[b] or 0) + k
end

-- Slots reserved earlier, read at once: a job whose slot has come goes and gives it back.
local keys = {}
for i = 1, jobs do keys[i] = resv .. ARGV[first_job + i - 1] end
local reserved = redis.call('MGET', unpack(keys))
local fresh, taken = 0, {}
for i = 1, jobs do
  reserved[i] = tonumber(reserved[i])
  if not reserved[i] then fresh = fresh + 1 end
end
-- When every window has room for all the new sends, they all go now.
local room = true
for _, log in ipairs(logs) do
  if log.n + fresh > log.limit then room = false end
end
if room and fresh > 0 then
  for _, log in ipairs(logs) do count(log, now, fresh) end
end
for i = 1, jobs do
  local at = reserved[i]
  if at and at <= now + 100 then
    taken[#taken + 1] = keys[i]
    verdicts[i] = 'g'
  elseif at then
    verdicts[i] = 'w'
    details[#details + 1] = at
  elseif room then
    verdicts[i] = 'g'
  else
    local slot = slot_for()
    for _, log in ipairs(logs) do count(log, slot, 1) end
    if slot <= now then
      verdicts[i] = 'g'
    else
      redis.call('SET', keys[i], slot, 'PX', slot - now + DAY)
      verdicts[i] = 'w'
      details[#details + 1] = slot
    end
  end
end
if #taken > 0 then redis.call('DEL', unpack(taken)) end
-- A window's counts live as long as its newest bucket counts: a new newest bucket moves its
-- expiry.
for _, log in ipairs(logs) do
  for b, c in pairs(log.added) do
    redis.call('HINCRBY', log.key, b, c)
  end
  if log.newest then
    redis.call('PEXPIREAT', log.key, (log.newest + log.span + 1) * log.size)
  end
end
return answer()
