-- Find dead-lettered jobs matching filters, newest first, one page of the dead set per call.
-- KEYS: ready, scheduled, dead, workers
-- ARGV: prefix, max death time (ms or '+inf'), min death time (ms or '-inf'), offset, count,
--   reason (lower-case piece of last_error, or ''),
--   sender (lower-case address, '*@domain', or '')
-- Returns { entries scanned (a string), matching job id, ... }; fewer entries scanned than
-- `count` means the end of the set was reached.
--
-- The sender is the `from` of the payload: read with a pattern from the payload's first 4 KiB
-- (where every encoder that writes `from` early puts it), else by decoding the whole JSON.
local prefix, max, min = ARGV[1], ARGV[2], ARGV[3]
local offset, count = tonumber(ARGV[4]), tonumber(ARGV[5])
local reason, sender = ARGV[6], ARGV[7]
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[3], max, min, 'LIMIT', offset, count)

local function sender_of(payload)
  if not payload then return nil end
  local from = string.match(string.sub(payload, 1, 4096), '"from"%s*:%s*"([^"\\]*)"')
  if not from then
    local ok, job = pcall(cjson.decode, payload)
    if ok and type(job) == 'table' and type(job.from) == 'string' then from = job.from end
  end
  if not from then return nil end
  local addr = string.match(from, '<([^>]*)>') or from
  addr = string.gsub(addr, '^%s+', '')
  addr = string.gsub(addr, '%s+$', '')
  return string.lower(addr)
end

local function sender_matches(addr)
  if not addr then return false end
  if string.sub(sender, 1, 2) == '*@' then
    local domain = string.sub(sender, 2)
    return #addr > #domain and string.sub(addr, -#domain) == domain
  end
  return addr == sender
end

local out = { tostring(#ids) }
for _, id in ipairs(ids) do
  local jk = prefix .. ':job:' .. id
  local ok = true
  if reason ~= '' then
    local err = redis.call('HGET', jk, 'last_error')
    ok = err and string.find(string.lower(err), reason, 1, true) ~= nil
  end
  if ok and sender ~= '' then
    ok = sender_matches(sender_of(redis.call('HGET', jk, 'payload')))
  end
  if ok then out[#out + 1] = id end
end
return out
