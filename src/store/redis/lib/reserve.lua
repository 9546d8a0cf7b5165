-- The priority reserve (twin: src/store/reserve.ts): the room and tokens a tier leaves to the tiers above it.

-- rollDemand in reserve.ts
local function roll_demand(b, now)
  local w = b.cfg.windowMs
  local from = math.floor(now / w) * w
  if from <= b.demandFrom then return end
  local nxt = from == b.demandFrom + w
  for t = 0, DEMAND_TIERS - 1 do
    if nxt then b['prior' .. t] = b['demand' .. t] else b['prior' .. t] = 0 end
    b['demand' .. t] = 0
  end
  b.demandFrom = from
end

-- demandAbove in reserve.ts: the tiers in [from, tier)
local function demand_above(b, tier, now, from)
  local fade = math.max(0, 1 - (now - b.demandFrom) / b.cfg.windowMs)
  local sum = 0
  for t = from or 0, math.min(tier, DEMAND_TIERS) - 1 do sum = sum + b['demand' .. t] + b['prior' .. t] * fade end
  return sum
end

-- windowLeft in reserve.ts: by the latest end (whi), or by the earliest (wlo) when `early`
local function window_left(b, now, early)
  if not phase_aligned(b, now) or b.whi <= now then return 1 end
  local e = b.whi
  if early then e = b.wlo end
  return math.max(0, math.min(1, (e - now) / b.cfg.windowMs))
end

-- hiddenPerWindow in reserve.ts
local function hidden_per_window(b, left)
  if left >= 1 or b.hiddenNow <= 0 then return b.hiddenLast end
  return math.max(b.hiddenLast, b.hiddenNow / math.max(K.hiddenMinElapsed, 1 - left))
end

-- coldReserve in reserve.ts: the share held for critical in a bucket's first window
local function cold_reserve(b, now)
  if b.cfg.coldStart and (b.createdAt == 0 or now < b.createdAt + b.cfg.windowMs) then return K.coldReserveShare end
  return 0
end

-- reservePerWindow in reserve.ts: the part released by the latest end (critical's, a hidden consumer's, the cold
-- start's) and the part released by the earliest (high's)
local function reserve_per_window(b, tier, now, hidden)
  local late = math.max(K.reserveHeadroom * demand_above(b, math.min(tier, 1), now) + hidden, cold_reserve(b, now) * effective_limit(b))
  local high = K.reserveHeadroom * demand_above(b, tier, now, 1)
  -- beside a hidden consumer high's room stays to the latest end too (see reservePerWindow)
  if hidden > 0 then return late + high, 0 end
  return late, high
end

-- hiddenSlack in reserve.ts: room for what a hidden consumer spent since the newest reply's request arrived
local function hidden_slack(b, hidden, now)
  if hidden <= 0 then return 0 end
  local age = math.max(0, now - b.observedAt) / b.cfg.windowMs
  return hidden * math.min(K.hiddenSlack, 2 * age)
end

-- criticalBurst in reserve.ts: the largest critical burst seen lately, halved once per window since
local function critical_burst(b, now)
  local w = b.cfg.windowMs
  local current = b.burstNow
  if now >= b.burstFrom + K.burstSpanMs then current = b.burstNow * 0.5 ^ (math.max(0, now - b.burstFrom) / w) end
  return math.max(b.burstPeak * 0.5 ^ (math.max(0, now - b.burstAt) / w), current)
end

-- countBurst in reserve.ts
local function count_burst(b, weight, now)
  if now >= b.burstFrom + K.burstSpanMs then
    b.burstPeak = critical_burst(b, now)
    b.burstAt = now
    b.burstFrom = now
    b.burstNow = 0
  end
  b.burstNow = b.burstNow + weight
end

-- reserveShare in reserve.ts (tier < 0: none given, the fixed share)
local function reserve_share(b, share, tier, now)
  tier = tier or -1
  if tier < 0 or share >= 1 then return share end
  local limit = effective_limit(b)
  if limit <= 0 then return share end
  local left = window_left(b, now)
  local hidden = hidden_per_window(b, left)
  local cold = cold_reserve(b, now)
  local late, early = reserve_per_window(b, tier, now, hidden)
  if left < 1 then
    -- a known window: headroom over the demand above, released as the window's end comes (high's by its earliest end)
    local ahead = late * left + early * window_left(b, now, true) + hidden_slack(b, hidden, now)
    return 1 - math.min(math.max(1 - share, K.reserveMaxShare, cold) * limit, ahead) / limit
  end
  -- no window known: room for critical's bursts (twice the largest seen), the rest within 1 - share
  local burst = (K.reserveHeadroom * critical_burst(b, now)) / limit
  local bound = math.max(1 - share, math.min(K.reserveMaxShare, burst), cold)
  local ahead = math.max(late + early, burst * limit) + hidden_slack(b, hidden, now)
  return 1 - math.min(bound * limit, ahead) / limit
end

-- reserveWait in reserve.ts
local function reserve_wait(b, counted, weight, tier, now)
  tier = tier or -1
  if tier < 0 then return math.huge end
  if not phase_aligned(b, now) or b.whi <= now then return math.huge end
  local hidden = hidden_per_window(b, window_left(b, now))
  local limit = effective_limit(b)
  local room = limit - counted - weight - hidden_slack(b, hidden, now)
  local late, early = reserve_per_window(b, tier, now, hidden)
  if room < 0 or late + early <= 0 then return math.huge end
  -- reserve(t) = (late x (whi - t) + early x max(0, wlo - t)) / windowMs falls to `room` (see reserveWait)
  local w = b.cfg.windowMs
  local lo = math.max(now, b.wlo)
  local at = (late * b.whi + early * lo - room * w) / (late + early)
  if at > lo then
    if late > 0 then at = b.whi - (room * w) / late else at = lo end
  end
  return math.max(1, at - now)
end

-- tierRoom in reserve.ts: the tier's share, the tokens it must leave, the weight waiting above it and when
-- the earliest of those waits ends
local function tier_room(b, share, tier, now)
  local reserved = reserve_share(b, share, tier, now)
  local capacity = token_capacity(b)
  -- critical may overdraw the token bucket by one capacity (see tierRoom)
  if tier == 0 then return reserved, -capacity, 0, math.huge end
  local waiting, waiting_until = 0, math.huge
  if tier ~= nil and tier > 0 then waiting, waiting_until = waiting_above(b, tier, now) end
  if waiting <= 0 then return reserved, capacity * (1 - reserved), 0, math.huge end
  local limit = effective_limit(b)
  local tier_share = reserved
  if limit > 0 then tier_share = math.max(0, reserved - waiting / limit) end
  return tier_share, math.min(capacity, capacity * (1 - reserved) + waiting), waiting, waiting_until
end
