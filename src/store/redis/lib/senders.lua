-- The senders of a bucket (senders.ts, the TypeScript twin, under the same names): what waits above each tier,
-- and fair shares within it. Loaded by every script (lib/ in luaScript.ts); only acquire reads or writes them.
--
-- Stored in the bucket hash's field `senders` (not in STATE), MessagePack (cmsgpack: numbers kept exactly, and read
-- and written in C: a text form cost every acquisition about 1 us a number, 14 numbers a sender): a list of senders
-- in the order they were first seen, each { id, weight, gotAt, got1, got2, got3, pending0..3, until0..3 } (got per
-- tier high, normal, low; pending and until per tier critical..low). A field that does not decode (written by an
-- older version) reads as no senders: the shares are relearned within a window.

local SENDER_TIERS = 4

-- b.senders: { list = { entry, ... } in stored order, by = { [id] = entry } }; entry = { id, weight, gotAt, got, pending, until }
local function load_senders(b)
  local list, by = {}, {}
  local raw = redis.call('HGET', b.hkey, 'senders')
  if raw then
    local ok, stored = pcall(cmsgpack.unpack, raw)
    if ok and type(stored) == 'table' then
      for _, f in ipairs(stored) do
        if type(f) == 'table' and type(f[1]) == 'string' and #f == 14 then
          local s = {
            id = f[1],
            weight = f[2],
            gotAt = f[3],
            got = { f[4], f[5], f[6] },
            pending = { f[7], f[8], f[9], f[10] },
            ['until'] = { f[11], f[12], f[13], f[14] },
          }
          list[#list + 1] = s
          by[s.id] = s
        end
      end
    end
  end
  b.senders = { list = list, by = by }
end

local function save_senders(b)
  local stored = {}
  for i, s in ipairs(b.senders.list) do
    stored[i] = { s.id, s.weight, s.gotAt, s.got[1], s.got[2], s.got[3], s.pending[1], s.pending[2], s.pending[3], s.pending[4],
      s['until'][1], s['until'][2], s['until'][3], s['until'][4] }
  end
  if #stored == 0 then redis.call('HDEL', b.hkey, 'senders') else redis.call('HSET', b.hkey, 'senders', cmsgpack.pack(stored)) end
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

-- weightAhead in senders.ts
local function weight_ahead(b, id, tier, weight, now)
  if tier < 0 or tier >= SENDER_TIERS then return 0 end
  local ahead = 0
  for _, s in ipairs(b.senders.list) do
    if s.id ~= id and s['until'][tier + 1] > now and s.pending[tier + 1] > 0 then ahead = ahead + math.min(s.pending[tier + 1], weight) end
  end
  return ahead
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
