-- Records one bounce message, once.
-- KEYS[1] = {NAME}:bounce:GMAIL_ID (the marker that it was processed)
-- KEYS[2] = {NAME}:job:ID (the job the bounce names; may be gone)
-- KEYS[3] = {NAME}:suppress:global
-- KEYS[4] = {NAME}:v2:done:SECOND (the job's done bucket: a sent job's record once its own
--           hash is gone; its extras' `b` holds the bounces)
-- ARGV[1] = the marker's lifetime (ms), ARGV[2] = now (ms),
-- ARGV[3] = JSON array of the bounces (each {recipient, status, diagnostic, at}),
-- ARGV[4] = the job id, ARGV[5..] = the hard-bounced recipients (lower case), suppressed
-- globally.
-- Returns 0 when the message was already processed, 1 when the job's record is gone (the
-- hard bounces are still suppressed), 2 when the bounces were added to the record's `bounced`.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return 0
end
local result = 1
if redis.call('EXISTS', KEYS[2]) == 1 then
  local list = {}
  local old = redis.call('HGET', KEYS[2], 'bounced')
  if old then
    list = cjson.decode(old)
  end
  for _, bounce in ipairs(cjson.decode(ARGV[3])) do
    table.insert(list, bounce)
  end
  redis.call('HSET', KEYS[2], 'bounced', cjson.encode(list))
  result = 2
elseif append_to_done(KEYS[4], ARGV[4], 'b', cjson.decode(ARGV[3])) then
  result = 2
end
for i = 5, #ARGV do
  redis.call('HSETNX', KEYS[3], ARGV[i], 'hard_bounce:' .. ARGV[2])
end
return result
