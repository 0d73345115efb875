-- Operate on dead-lettered jobs.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, now_ms, action ('retry' | 'purge'), then job ids
-- Returns how many jobs were acted on.
local prefix, now, action = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local jk = prefix .. ':job:' .. id
  if redis.call('ZSCORE', KEYS[3], id) then
    if action == 'purge' then
      redis.call('ZREM', KEYS[3], id)
      redis.call('DEL', jk)
      n = n + 1
    elseif redis.call('HEXISTS', jk, 'payload') == 1 then
      redis.call('ZREM', KEYS[3], id)
      local e = redis.call('XADD', KEYS[1], '*', 'id', id)
      redis.call('HSET', jk, 'state', 'queued', 'entry', e, 'attempts', 0, 'deliveries', 0, 'updated_at', now)
      redis.call('HDEL', jk, 'finished_at', 'expires_at')
      redis.call('PERSIST', jk)
      n = n + 1
    end
  end
end
return n
