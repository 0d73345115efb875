-- Queue counts in a handful of O(1) commands (and one O(log n) XRANGE).
-- KEYS: ready, scheduled, dead, workers
-- ARGV: group, counters key
-- Returns { stream_length, pending, scheduled, dead, oldest_ready_ms or -1, workers,
--   jobs ever enqueued }
local group = ARGV[1]
local len = redis.call('XLEN', KEYS[1])
local pending, last = 0, '0-0'
if len > 0 or redis.call('EXISTS', KEYS[1]) == 1 then
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if ok then
    for _, g in ipairs(groups) do
      local name, p, l = nil, 0, '0-0'
      for j = 1, #g, 2 do
        if g[j] == 'name' then name = g[j + 1] end
        if g[j] == 'pending' then p = g[j + 1] end
        if g[j] == 'last-delivered-id' then l = g[j + 1] end
      end
      if name == group then pending, last = p, l end
    end
  end
end
local oldest = -1
local first = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
if first[1] then
  oldest = tonumber(string.match(first[1][1], '^(%d+)'))
end
local enqueued = tonumber(redis.call('HGET', ARGV[2], 'enqueued') or '0')
return { len, pending, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), oldest,
  redis.call('HLEN', KEYS[4]), enqueued }
