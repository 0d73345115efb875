-- Housekeeping run by every worker now and then: trim old dead letters, forget stale workers
-- and idle senders.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, group, dead_cutoff_ms, stale_cutoff_ms, limit
-- Returns { dead_trimmed, workers_forgotten }
local prefix, now, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local dead_cutoff, stale_cutoff, limit = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', dead_cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(old) do
  redis.call('DEL', prefix .. ':job:' .. id)
end
if #old > 0 then redis.call('ZREM', KEYS[3], unpack(old)) end
local forgotten = 0
local beats, pending = {}, {}
local all = redis.call('HGETALL', KEYS[4])
for j = 1, #all, 2 do beats[all[j]] = tonumber(all[j + 1]) end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], group)
if ok then
  for _, c in ipairs(consumers) do
    local name, p = nil, 0
    for j = 1, #c, 2 do
      if c[j] == 'name' then name = c[j + 1] end
      if c[j] == 'pending' then p = c[j + 1] end
    end
    pending[name] = p
    local beat = beats[name]
    if p == 0 and (beat == nil or beat < stale_cutoff) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, name)
      forgotten = forgotten + 1
    end
  end
end
for name, beat in pairs(beats) do
  if beat < stale_cutoff and (pending[name] or 0) == 0 then
    redis.call('HDEL', KEYS[4], name)
  end
end
-- Forget senders idle longer than their longest window plus a margin: by then each of their
-- keys has expired (the quota logs a day after their last slot, the state hash a day and an
-- hour after its last use), so a member of the senders set with none left is dropped. An
-- SSCAN cursor kept between runs bounds each run to about `limit` members.
local senders, cursor_key = prefix .. ':senders', prefix .. ':senders:cursor'
local scan = redis.call('SSCAN', senders, redis.call('GET', cursor_key) or '0', 'COUNT', limit)
for _, s in ipairs(scan[2]) do
  local p = prefix .. ':'
  if redis.call('EXISTS', p .. 'sender:' .. s, p .. 'v2:quota:' .. s .. ':minute',
      p .. 'v2:quota:' .. s .. ':day') == 0 then
    redis.call('SREM', senders, s)
  end
end
redis.call('SET', cursor_key, scan[1])
return { #old, forgotten }
