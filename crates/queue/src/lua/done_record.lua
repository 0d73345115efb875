-- Shared by finish.lua and bounce.lua (prepended to each in scripts.rs and bounces.rs).
-- A done record is a field of its bucket hash {prefix}:v2:done:SECOND whose value is the JSON
-- array [state, finished_at, deliveries, attempts, created_at, transport_id, thread_id,
-- extras?] (see done.rs). Appends `items` to the list `key` of the record's extras (`d`:
-- duplicate ids, `b`: bounces) and writes the record back; returns false when the bucket has
-- no record for `id`.
local function append_to_done(bucket, id, key, items)
  local done = redis.call('HGET', bucket, id)
  if not done then return false end
  local rec = cjson.decode(done)
  local extras = rec[8]
  if type(extras) ~= 'table' then extras = {} end
  local list = extras[key]
  if type(list) ~= 'table' then list = {} end
  for _, item in ipairs(items) do
    list[#list + 1] = item
  end
  for k = #rec + 1, 7 do rec[k] = '' end
  extras[key] = list
  rec[8] = extras
  redis.call('HSET', bucket, id, cjson.encode(rec))
  return true
end

