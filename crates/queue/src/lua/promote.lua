-- Move due scheduled jobs to the ready stream, at most `limit` per call; and move jobs that
-- clients of protocol v1 added to the v1 stream into the v2 stream.
-- KEYS: ready, scheduled, dead, workers, ready_v1
-- While `limit` or more jobs already wait undelivered in the stream, nothing moves: due jobs then
-- enter as the stream drains, interleaved fairly with jobs enqueued for immediate sending.
-- A moved job keeps its payload in its record; its new entry carries only its id.
-- From the v1 stream, an entry moves when no v1 worker has read it yet, or when the v1 worker
-- that read it has held it longer than `lease_ms` without an outcome (it stopped).
-- ARGV: prefix, now_ms, limit, group, lease_ms
-- Returns: { moved, next_due_ms or -1 }
local prefix, now, limit, group = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local lease = tonumber(ARGV[5] or '60000')
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], group)
local pending = 0
if ok then pending = tonumber(summary[1]) end
if redis.call('XLEN', KEYS[1]) - pending >= limit then
  return { 0, now }
end
local function ready(id, payload)
  local jk = prefix .. ':job:' .. id
  local entry
  if payload then
    entry = redis.call('XADD', KEYS[1], '*', 'id', id, 'p', payload)
  else
    entry = redis.call('XADD', KEYS[1], '*', 'id', id)
  end
  if redis.call('EXISTS', jk) == 1 then
    redis.call('HSET', jk, 'state', 'queued', 'entry', entry, 'updated_at', now)
    redis.call('HDEL', jk, 'owner')
  end
end
local moved = 0
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  ready(id, nil)
end
if #ids > 0 then
  redis.call('ZREM', KEYS[2], unpack(ids))
end
moved = #ids
-- A v1 entry carries the id; one added by v2's enqueue.lua run against the v1 key names
-- carries its payload too, which moves along.
local function move(row)
  local id, payload = nil, nil
  for j = 1, #row[2], 2 do
    if row[2][j] == 'id' then id = row[2][j + 1] end
    if row[2][j] == 'p' then payload = row[2][j + 1] end
  end
  if id then ready(id, payload) end
end
if moved < limit and redis.call('EXISTS', KEYS[5]) == 1 then
  local last, found = '-', false
  local okg, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[5])
  if okg then
    for _, g in ipairs(groups) do
      local name, l = nil, nil
      for j = 1, #g, 2 do
        if g[j] == 'name' then name = g[j + 1] end
        if g[j] == 'last-delivered-id' then l = g[j + 1] end
      end
      if name == group and l then last, found = '(' .. l, true end
    end
  end
  for _, row in ipairs(redis.call('XRANGE', KEYS[5], last, '+', 'COUNT', limit - moved)) do
    move(row)
    redis.call('XDEL', KEYS[5], row[1])
    moved = moved + 1
  end
  if found and moved < limit then
    local stale = redis.call('XPENDING', KEYS[5], group, 'IDLE', lease, '-', '+', limit - moved)
    for _, p in ipairs(stale) do
      local row = redis.call('XRANGE', KEYS[5], p[1], p[1])
      if row[1] then move(row[1]) end
      redis.call('XACK', KEYS[5], group, p[1])
      redis.call('XDEL', KEYS[5], p[1])
      moved = moved + 1
    end
  end
end
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
return { moved, next_due }
