-- The bounce reader's lock: one reader at a time across workers.
-- KEYS[1] = {NAME}:bounces:reader
-- ARGV[1] = 'claim' or 'release', ARGV[2] = the owner, ARGV[3] = the lease (ms, claim only)
-- claim: takes the lock when free, or renews it when the owner holds it; 1 when held after.
-- release: drops it when the owner holds it; 1 when dropped.
local held = redis.call('GET', KEYS[1])
if ARGV[1] == 'claim' then
  if not held then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
  elseif held == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  return 0
end
if held == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
