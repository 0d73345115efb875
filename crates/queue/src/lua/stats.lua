-- Queue counts in a handful of O(1) commands (and one O(log n) XRANGE per stream).
-- KEYS: ready, scheduled, dead, workers, ready_v1
-- ARGV: group, counters key
-- Returns { stream_length, pending, scheduled, dead, oldest_ready_ms or -1, workers,
--   jobs ever enqueued }; the stream figures count both the v2 stream and the v1 stream
-- (jobs of v1 clients not yet moved).
local group = ARGV[1]
local len, pending, oldest = 0, 0, -1
for k = 1, 5, 4 do
  local key = KEYS[k]
  local n = redis.call('XLEN', key)
  local p, last = 0, '0-0'
  if n > 0 then
    local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', key)
    if ok then
      for _, g in ipairs(groups) do
        local name, gp, l = nil, 0, '0-0'
        for j = 1, #g, 2 do
          if g[j] == 'name' then name = g[j + 1] end
          if g[j] == 'pending' then gp = g[j + 1] end
          if g[j] == 'last-delivered-id' then l = g[j + 1] end
        end
        if name == group then p, last = gp, l end
      end
    end
    local first = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1)
    if first[1] then
      local t = tonumber(string.match(first[1][1], '^(%d+)'))
      if oldest < 0 or t < oldest then oldest = t end
    end
  end
  len, pending = len + n, pending + p
end
local enqueued = tonumber(redis.call('HGET', ARGV[2], 'enqueued') or '0')
return { len, pending, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), oldest,
  redis.call('HLEN', KEYS[4]), enqueued }
