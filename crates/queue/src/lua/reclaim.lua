-- Take over entries whose lease ran out (their worker died), or dead-letter them as poison.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, group, consumer, lease_ms, max_deliveries, count
-- Returns how many jobs were dead-lettered as poison (as a string), then per claimed entry
-- four values, flattened: entry_id, job_id, times delivered (this delivery included), and the
-- payload the entry carries or 0 when it waits in the job's record.
local prefix, now, group, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local lease, max, count = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', lease, '-', '+', count)
local out = { '0' }
local poisoned = 0
for _, p in ipairs(pending) do
  local entry, delivered = p[1], tonumber(p[4])
  local rows = redis.call('XRANGE', KEYS[1], entry, entry)
  local id, payload = nil, 0
  if rows[1] then
    local fields = rows[1][2]
    for j = 1, #fields, 2 do
      if fields[j] == 'id' then id = fields[j + 1] end
      if fields[j] == 'p' then payload = fields[j + 1] end
    end
  end
  if not id then
    redis.call('XACK', KEYS[1], group, entry)
  elseif delivered >= max then
    redis.call('XACK', KEYS[1], group, entry)
    redis.call('XDEL', KEYS[1], entry)
    local jk = prefix .. ':job:' .. id
    if redis.call('EXISTS', jk) == 1 then
      if payload ~= 0 and redis.call('HEXISTS', jk, 'payload') == 0 then
        redis.call('HSET', jk, 'payload', payload)
      end
      redis.call('HSET', jk, 'state', 'dead', 'finished_at', now, 'updated_at', now,
        'last_error', 'poison: delivered ' .. delivered .. ' times without an outcome')
      redis.call('HDEL', jk, 'entry')
      redis.call('ZADD', KEYS[3], now, id)
      poisoned = poisoned + 1
    end
  else
    local claimed = redis.call('XCLAIM', KEYS[1], group, consumer, lease, entry)
    if claimed[1] then
      out[#out + 1] = entry
      out[#out + 1] = id
      out[#out + 1] = delivered + 1
      out[#out + 1] = payload
    end
  end
end
out[1] = tostring(poisoned)
return out
