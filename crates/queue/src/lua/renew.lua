-- Renew the leases of deliveries a worker still holds: reset their idle time, and only theirs.
-- A delivery another worker took over once its lease ran out (or one already settled) is left
-- alone, so a renewal never takes a delivery back from its new holder.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: group, consumer, then the stream entry ids to renew
-- Returns the entries the consumer no longer holds.
local group, consumer = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local entry = ARGV[i]
  local mine = redis.call('XPENDING', KEYS[1], group, entry, entry, 1, consumer)
  if mine[1] then
    redis.call('XCLAIM', KEYS[1], group, consumer, 0, entry, 'JUSTID')
  else
    lost[#lost + 1] = entry
  end
end
return lost
