-- Settled requests (twin: src/store/settle.ts): a reply says which server window its request landed in, and the
-- request stops counting when that window ends. The hash's field `settles` (text, not in STATE) holds settled weight
-- waiting for its window's end, "end:weight" groups joined by ';', earliest end first.

-- entryOf in settle.ts: the 0-based index of the log entry holding `at`'s granule, or -1 (binary search)
local function entry_of(b, at)
  local g = granule_ms(b.cfg.windowMs)
  local target = math.floor(at / g)
  local lo, hi = 0, b.len - 1
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    local e_at = parse_entry(redis.call('LINDEX', b.lkey, mid))
    local granule = math.floor(e_at / g)
    if granule == target then return mid end
    if granule < target then lo = mid + 1 else hi = mid - 1 end
  end
  return -1
end

-- The settled groups: { {end, weight}, ... }, earliest end first.
local function read_settles(b)
  local list = {}
  if b.settleNext == 0 then return list end
  local raw = redis.call('HGET', b.hkey, 'settles')
  if raw then
    for e, w in string.gmatch(raw, '([^:;]+):([^;]+)') do list[#list + 1] = { tonumber(e), tonumber(w) } end
  end
  return list
end

local function write_settles(b, list)
  if #list == 0 then
    redis.call('HDEL', b.hkey, 'settles')
    b.settleNext = 0
    return
  end
  local parts = {}
  for i, x in ipairs(list) do parts[i] = fmt(x[1]) .. ':' .. fmt(x[2]) end
  redis.call('HSET', b.hkey, 'settles', table.concat(parts, ';'))
  b.settleNext = list[1][1]
end

-- applySettles in settle.ts: settled weight whose window has ended stops counting
local function apply_settles(b, now)
  if b.settleNext == 0 or b.settleNext > now then return end
  local rest = {}
  for _, x in ipairs(read_settles(b)) do
    if x[1] <= now then b.used = math.max(0, b.used - x[2]) else rest[#rest + 1] = x end
  end
  write_settles(b, rest)
  redis.call('HSET', b.hkey, 'used', fmt(b.used), 'settleNext', fmt(b.settleNext))
end

-- settle in settle.ts: the request (admitted at sent_at, `weight` in this bucket) stops counting when the window it
-- landed in ends (by end_ms); true when it changed b
local function settle(b, sent_at, weight, end_ms, now)
  if not (weight > 0) then return false end
  local i = entry_of(b, sent_at)
  if i < 0 then return false end
  local at, w, settled = parse_entry(redis.call('LINDEX', b.lkey, i))
  if entry_expiry(b, at, now) <= end_ms then return false end
  local take = math.min(w - settled, weight)
  if not (take > 0) then return false end
  if end_ms <= now then
    redis.call('LSET', b.lkey, i, format_entry(at, w - take, settled))
    b.used = math.max(0, b.used - take)
    return true
  end
  local g = granule_ms(b.cfg.windowMs)
  local group = math.ceil(end_ms / g) * g -- a group per granule, rounded up: a little later, the safe side
  local list = read_settles(b)
  local j = #list + 1
  while j > 1 and list[j - 1][1] > group do j = j - 1 end
  if j > 1 and list[j - 1][1] == group then
    list[j - 1][2] = list[j - 1][2] + take
  elseif #list < K.maxSettles then
    table.insert(list, j, { group, take })
  else
    return false
  end
  write_settles(b, list)
  redis.call('LSET', b.lkey, i, format_entry(at, w, settled + take))
  return true
end
