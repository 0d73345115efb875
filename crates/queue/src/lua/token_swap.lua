-- token_swap: replaces fields of a sender's token hash only if field ARGV[1] still holds
-- ARGV[2], the value that was read (so a concurrent enrollment wins over a re-encryption).
-- KEYS[1] the sender's token hash
-- ARGV: guard field, guard value, then field, value, field, value, ...
-- Returns 1 when swapped, 0 when the guard no longer matched.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
