-- send_slot: takes one of a sender's send slots, shared by every worker, if fewer than the cap
-- are held. A slot is a lease: a member of the sender's in-flight set scored by when it ends,
-- so a worker that dies mid-send loses its slots once their lease runs out.
--
-- KEYS[1] the sender's in-flight set (zset: token -> lease end, ms)
-- ARGV: now ms, token, cap, lease ms
-- Returns 1 when the slot was taken, 0 when the cap is reached.
local now, cap, lease = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
