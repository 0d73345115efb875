-- token_mark: records the outcome of a refresh on a sender still enrolled.
-- KEYS[1] the sender's token hash
-- ARGV: '1' (refreshed) or '0' (failed), now ms, error text
-- Returns 1 when the sender is enrolled, 0 otherwise (nothing written).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'refreshed_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'last_error', 'last_error_at')
else
  redis.call('HSET', KEYS[1], 'last_error', ARGV[3], 'last_error_at', ARGV[2])
end
return 1
