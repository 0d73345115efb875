-- Remove a stopping worker's consumer, unless it still holds deliveries (they would be lost).
-- KEYS: ready, scheduled, dead, workers
-- ARGV: group, consumer
-- Returns 1 when removed, 0 when it still holds pending entries.
local group, consumer = ARGV[1], ARGV[2]
redis.call('HDEL', KEYS[4], consumer)
local ok, held = pcall(redis.call, 'XPENDING', KEYS[1], group, '-', '+', 1, consumer)
if ok and held[1] then return 0 end
pcall(redis.call, 'XGROUP', 'DELCONSUMER', KEYS[1], group, consumer)
return 1
