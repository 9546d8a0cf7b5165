-- The senders of a bucket (senders.ts, the TypeScript twin, under the same names): what waits above each tier,
-- and fair shares within it. Loaded by every script (lib/ in luaScript.ts); only acquire reads or writes them.
--
-- Stored in the bucket hash's field `senders` (text, not in STATE): one sender per ';', in the order they were
-- first seen, each "id|weight|gotAt|got1|got2|got3|pending0|pending1|pending2|pending3|until0|until1|until2|until3"
-- (got per tier high, normal, low; pending and until per tier critical..low). Ids never hold '|' or ';'
-- (options.ts allows A-Z a-z 0-9 _ . : -).

local SENDER_TIERS = 4

local function sender_num(x)
  return string.format('%.17g', x)
end

-- b.senders: { list = { entry, ... } in stored order, by = { [id] = entry } }; entry = { id, weight, gotAt, got, pending, until }
local function load_senders(b)
  local list, by = {}, {}
  local raw = redis.call('HGET', b.hkey, 'senders')
  if raw then
    for part in string.gmatch(raw, '[^;]+') do
      local f = {}
      for x in string.gmatch(part, '[^|]+') do f[#f + 1] = x end
      local s = {
        id = f[1],
        weight = tonumber(f[2]),
        gotAt = tonumber(f[3]),
        got = { tonumber(f[4]), tonumber(f[5]), tonumber(f[6]) },
        pending = { tonumber(f[7]), tonumber(f[8]), tonumber(f[9]), tonumber(f[10]) },
        ['until'] = { tonumber(f[11]), tonumber(f[12]), tonumber(f[13]), tonumber(f[14]) },
      }
      list[#list + 1] = s
      by[s.id] = s
    end
  end
  b.senders = { list = list, by = by }
end

local function save_senders(b)
  local parts = {}
  for i, s in ipairs(b.senders.list) do
    parts[i] = s.id .. '|' .. sender_num(s.weight) .. '|' .. sender_num(s.gotAt) .. '|' .. sender_num(s.got[1]) .. '|' .. sender_num(s.got[2]) .. '|'
      .. sender_num(s.got[3]) .. '|' .. sender_num(s.pending[1]) .. '|' .. sender_num(s.pending[2]) .. '|' .. sender_num(s.pending[3]) .. '|'
      .. sender_num(s.pending[4]) .. '|' .. sender_num(s['until'][1]) .. '|' .. sender_num(s['until'][2]) .. '|' .. sender_num(s['until'][3]) .. '|'
      .. sender_num(s['until'][4])
  end
  if #parts == 0 then redis.call('HDEL', b.hkey, 'senders') else redis.call('HSET', b.hkey, 'senders', table.concat(parts, ';')) end
end

-- decay in senders.ts
local function sender_decay(s, window_ms, now)
  if now <= s.gotAt then return end
  local f = math.exp(-(now - s.gotAt) / window_ms)
  for i = 1, 3 do s.got[i] = s.got[i] * f end
  s.gotAt = now
end

-- entry in senders.ts
local function sender_entry(b, id, weight, now)
  local s = b.senders.by[id]
  if not s then
    s = { id = id, weight = weight, gotAt = now, got = { 0, 0, 0 }, pending = { 0, 0, 0, 0 }, ['until'] = { 0, 0, 0, 0 } }
    b.senders.list[#b.senders.list + 1] = s
    b.senders.by[id] = s
  end
  s.weight = weight
  sender_decay(s, b.cfg.windowMs, now)
  return s
end

local function sender_activity(s)
  return math.max(s['until'][1], s['until'][2], s['until'][3], s['until'][4], s.gotAt)
end

-- pruneSenders in senders.ts
local function prune_senders(b, now)
  local kept = {}
  for _, s in ipairs(b.senders.list) do
    sender_decay(s, b.cfg.windowMs, now)
    local waits, busy = false, false
    for t = 1, SENDER_TIERS do
      if s['until'][t] > now then waits = true end
    end
    for i = 1, 3 do
      if s.got[i] >= K.senderIdleWeight then busy = true end
    end
    if waits or busy then kept[#kept + 1] = s else b.senders.by[s.id] = nil end
  end
  if #kept > K.maxSenders then
    -- the least recently active go (a stable sort: ties keep their order, as in senders.ts)
    local order = {}
    for i, s in ipairs(kept) do order[i] = { s = s, i = i } end
    table.sort(order, function(x, y)
      local ax, ay = sender_activity(x.s), sender_activity(y.s)
      if ax ~= ay then return ax < ay end
      return x.i < y.i
    end)
    local drop = {}
    for i = 1, #kept - K.maxSenders do drop[order[i].s.id] = true end
    local rest = {}
    for _, s in ipairs(kept) do
      if drop[s.id] then b.senders.by[s.id] = nil else rest[#rest + 1] = s end
    end
    kept = rest
  end
  b.senders.list = kept
end

-- waitingAbove in senders.ts: weight waiting in the tiers above `tier`, and the earliest end of those waits
local function waiting_above(b, tier, now)
  local weight, until_ms = 0, math.huge
  if not b.senders then return weight, until_ms end
  for _, s in ipairs(b.senders.list) do
    for t = 0, math.min(tier, SENDER_TIERS) - 1 do
      if s['until'][t + 1] > now and s.pending[t + 1] > 0 then
        weight = weight + s.pending[t + 1]
        until_ms = math.min(until_ms, s['until'][t + 1])
      end
    end
  end
  return weight, until_ms
end

-- fairShareWait in senders.ts
local function fair_share_wait(b, id, bot_weight, tier, now)
  if tier < 1 or tier >= SENDER_TIERS then return 0 end
  local self = sender_entry(b, id, bot_weight, now)
  local total, weights = self.got[tier], self.weight
  local hungry = {}
  for _, s in ipairs(b.senders.list) do
    if s.id ~= id and s['until'][tier + 1] > now and s.pending[tier + 1] > 0 then
      sender_decay(s, b.cfg.windowMs, now)
      hungry[#hungry + 1] = s
      total = total + s.got[tier]
      weights = weights + s.weight
    end
  end
  if #hungry == 0 then return 0 end
  if self.got[tier] < total * self.weight / weights * (1 + K.fairSlack) then return 0 end
  local wait = math.huge
  for _, s in ipairs(hungry) do
    if s.got[tier] < total * s.weight / weights and s['until'][tier + 1] - now <= K.fairHoldMs then wait = math.min(wait, s['until'][tier + 1] - now) end
  end
  if wait == math.huge then return 0 end
  return math.max(1, math.ceil(wait))
end

-- recordAdmitted in senders.ts
local function record_admitted(b, id, bot_weight, tier, weight, count, now)
  local s = sender_entry(b, id, bot_weight, now)
  if tier >= 1 and tier < SENDER_TIERS then s.got[tier] = s.got[tier] + weight * count end
  if tier >= 0 and tier < SENDER_TIERS then
    s.pending[tier + 1] = 0
    s['until'][tier + 1] = 0
  end
end

-- recordWaiting in senders.ts
local function record_waiting(b, id, bot_weight, tier, weight, count, wait_ms, now)
  if tier < 0 or tier >= SENDER_TIERS then return end
  local s = sender_entry(b, id, bot_weight, now)
  s.pending[tier + 1] = weight * count
  s['until'][tier + 1] = now + wait_ms + K.pendingSlackMs
end
