-- Shared bucket functions. Each script of this folder runs as: the layout tables generated from
-- scriptLayout.ts (ARG, CFG, STATE, REPLY, EACH, K), then this file, then the script. The algorithm is the
-- one in src/buckets/bucketMath.ts, under the same names; test/storeSuite.ts and
-- test/storeDifferential.test.ts hold both to one behaviour.
--
-- Keys of one bucket (keys.ts; both share the account's {hash tag}):
--   hash: the fields listed in STATE (BucketFields in bucketMath.ts)
--   log:  "admittedAtMs:weight" or "admittedAtMs:weight:settled" entries, oldest first; one entry per granule
--         (`settled`: the part of the weight a settle took over, LogEntry in bucketMath.ts).
--   the hash's field `settles` (not in STATE: text): settled weight waiting for its window's end, "end:weight"
--   groups joined by ';', earliest end first (`settles` in bucketMath.ts).
-- Time is Redis TIME unless the caller passes an explicit time (tests).

-- Numbers as text without loss (tostring keeps 14 digits only); nil as '', booleans as 1/0.
local function fmt(x)
  if type(x) == 'number' then return string.format('%.17g', x) end
  if x == nil then return '' end
  if x == true then return '1' end
  if x == false then return '0' end
  return x
end

-- The values of `t` under `fields` (REPLY or EACH), in order, as text.
local function pack(fields, t)
  local out = {}
  for i, f in ipairs(fields) do out[i] = fmt(t[f]) end
  return out
end

local function now_ms(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- How many bucket blocks this call carries, checked against KEYS and ARGV; nil and a reason when they disagree.
local function bucket_count()
  local n = 0
  if BUCKETS == 'one' then n = 1 elseif BUCKETS == 'many' then n = #KEYS / 2 end
  if BUCKETS ~= 'none' and (n ~= math.floor(n) or #KEYS ~= 2 * n) then return nil, 'keys' end
  if #ARGV ~= ARG_COUNT + n * CFG_SIZE then return nil, 'argv' end
  return n
end

-- The config block of bucket `i` (1-based), by the names of CFG; an error reply when a value is malformed.
local function read_cfg(i)
  local base = ARG_COUNT + (i - 1) * CFG_SIZE + 1
  local cfg = {}
  for name, offset in pairs(CFG) do
    local v = tonumber(ARGV[base + offset])
    if v == nil or v ~= v or v < 0 then return redis.error_reply('KS_BAD_ARG:' .. name) end
    cfg[name] = v
  end
  if cfg.windowMs <= 0 then return redis.error_reply('KS_BAD_ARG:windowMs') end
  cfg.alignPhase = cfg.alignPhase ~= 0
  cfg.measureMargin = cfg.measureMargin ~= 0
  cfg.coldStart = cfg.coldStart ~= 0
  cfg.span = cfg.windowMs + cfg.marginMs -- the configured span (spanMs in bucketMath.ts)
  return cfg
end

local function granule_ms(window_ms)
  return math.max(1, math.min(K.granuleMaxMs, math.floor(window_ms / K.granuleDivisor)))
end

-- at, weight and the settled part (0 when absent) of a log entry
local function parse_entry(entry)
  local at, w, settled = string.match(entry, '^([^:]+):([^:]+):?(.*)$')
  return tonumber(at), tonumber(w), tonumber(settled) or 0
end

local function format_entry(at, w, settled)
  if settled > 0 then return fmt(at) .. ':' .. fmt(w) .. ':' .. fmt(settled) end
  return fmt(at) .. ':' .. fmt(w)
end

local function phase_aligned(b, now)
  return b.cfg.alignPhase and b.conflictUntil <= now and b.whi > 0
end

-- The transit margin in force (marginOf in bucketMath.ts).
local function margin_of(b)
  if not b.cfg.measureMargin or b.samplesNow + b.samplesLast < K.marginMinSamples then return b.cfg.marginMs end
  local spread = math.max(b.spreadNow, b.spreadLast)
  return math.min(K.marginMaxMs, math.max(K.marginMinMs, K.marginSpreadFactor * spread + K.marginPadMs))
end

-- liveSpanMs in bucketMath.ts
local function live_span(b)
  return b.cfg.windowMs + margin_of(b)
end

-- When an entry admitted at `at` stops counting, as seen at `now` (entryExpiry in bucketMath.ts).
local function entry_expiry(b, at, now)
  local margin = margin_of(b)
  local slide = at + b.cfg.windowMs + margin
  if not phase_aligned(b, now) or at + margin > b.wlo then return slide end
  -- surely charged to the window before the known one (its replies came before its end): that window's end
  if b.prevWhi > 0 and at + margin < b.prevWlo then return math.min(slide, b.prevWhi) end
  return math.min(slide, b.whi)
end

local function base_limit(b)
  if b.learnedLimit > 0 then return b.learnedLimit end
  return b.cfg.limit
end

local function effective_limit(b)
  return math.floor(base_limit(b) * b.factor)
end

local function pacing_scale(b)
  return (base_limit(b) / b.cfg.limit) * b.factor
end

local function token_capacity(b)
  return b.cfg.burst * pacing_scale(b)
end

-- Demand of the tiers that may hold a reserve (critical, high, normal): fields demand0..2 and prior0..2.
local DEMAND_TIERS = 3

-- rollDemand in bucketMath.ts
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

-- demandAbove in bucketMath.ts
local function demand_above(b, tier, now)
  local fade = math.max(0, 1 - (now - b.demandFrom) / b.cfg.windowMs)
  local sum = 0
  for t = 0, math.min(tier, DEMAND_TIERS) - 1 do sum = sum + b['demand' .. t] + b['prior' .. t] * fade end
  return sum
end

-- windowLeft in bucketMath.ts
local function window_left(b, now)
  if not phase_aligned(b, now) or b.whi <= now then return 1 end
  return math.min(1, (b.whi - now) / b.cfg.windowMs)
end

-- hiddenPerWindow in bucketMath.ts
local function hidden_per_window(b, left)
  if left >= 1 or b.hiddenNow <= 0 then return b.hiddenLast end
  return math.max(b.hiddenLast, b.hiddenNow / math.max(K.hiddenMinElapsed, 1 - left))
end

-- reservePerWindow in bucketMath.ts
local function reserve_per_window(b, tier, now, hidden)
  return K.reserveHeadroom * demand_above(b, tier, now) + hidden
end

-- coldReserve in bucketMath.ts: the share held for critical in a bucket's first window
local function cold_reserve(b, now)
  if b.cfg.coldStart and (b.createdAt == 0 or now < b.createdAt + b.cfg.windowMs) then return K.coldReserveShare end
  return 0
end

-- hiddenSlack in bucketMath.ts: room for what a hidden consumer spent since the newest reply's request arrived
local function hidden_slack(b, hidden, now)
  if hidden <= 0 then return 0 end
  local age = math.max(0, now - b.observedAt) / b.cfg.windowMs
  return hidden * math.min(K.hiddenSlack, 2 * age)
end

-- criticalBurst in bucketMath.ts: the largest critical burst seen lately, halved once per window since
local function critical_burst(b, now)
  local w = b.cfg.windowMs
  local current = b.burstNow
  if now >= b.burstFrom + K.burstSpanMs then current = b.burstNow * 0.5 ^ (math.max(0, now - b.burstFrom) / w) end
  return math.max(b.burstPeak * 0.5 ^ (math.max(0, now - b.burstAt) / w), current)
end

-- countBurst in bucketMath.ts
local function count_burst(b, weight, now)
  if now >= b.burstFrom + K.burstSpanMs then
    b.burstPeak = critical_burst(b, now)
    b.burstAt = now
    b.burstFrom = now
    b.burstNow = 0
  end
  b.burstNow = b.burstNow + weight
end

-- reserveShare in bucketMath.ts (tier < 0: none given, the fixed share)
local function reserve_share(b, share, tier, now)
  tier = tier or -1
  if tier < 0 or share >= 1 then return share end
  local limit = effective_limit(b)
  if limit <= 0 then return share end
  local left = window_left(b, now)
  local hidden = hidden_per_window(b, left)
  local cold = cold_reserve(b, now)
  if left < 1 then
    -- a known window: headroom over the demand above, released as the window's end comes
    local ahead = math.max(reserve_per_window(b, tier, now, hidden), cold * limit) * left + hidden_slack(b, hidden, now)
    return 1 - math.min(math.max(1 - share, K.reserveMaxShare, cold) * limit, ahead) / limit
  end
  -- no window known: room for critical's bursts (twice the largest seen), the rest within 1 - share
  local burst = (K.reserveHeadroom * critical_burst(b, now)) / limit
  local bound = math.max(1 - share, math.min(K.reserveMaxShare, burst), cold)
  local ahead = math.max(reserve_per_window(b, tier, now, hidden), cold * limit, burst * limit) + hidden_slack(b, hidden, now)
  return 1 - math.min(bound * limit, ahead) / limit
end

-- reserveWait in bucketMath.ts
local function reserve_wait(b, counted, weight, tier, now)
  tier = tier or -1
  if tier < 0 then return math.huge end
  if not phase_aligned(b, now) or b.whi <= now then return math.huge end
  local hidden = hidden_per_window(b, window_left(b, now))
  local limit = effective_limit(b)
  local room = limit - counted - weight - hidden_slack(b, hidden, now)
  local rate = math.max(reserve_per_window(b, tier, now, hidden), cold_reserve(b, now) * limit)
  if room < 0 or rate <= 0 then return math.huge end
  return math.max(1, b.whi - (room * b.cfg.windowMs) / rate - now)
end

-- tierRoom in bucketMath.ts: the tier's share, the tokens it must leave, the weight waiting above it and when
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

-- tokensNeeded in bucketMath.ts
local function tokens_needed(b, weight, floor)
  return math.min(weight, math.max(0, token_capacity(b) - floor))
end

-- Milliseconds the state must be kept when nothing touches it (keepUntil in bucketMath.ts, minus now).
local function ttl(b, now)
  local later = math.max(b.pausedUntil, b.hiddenUntil, b.whi, b.tightenedUntil, b.conflictUntil)
  return math.ceil(live_span(b) + K.idleSlackMs + math.max(0, later - now))
end

-- entryOf in bucketMath.ts: the 0-based index of the log entry holding `at`'s granule, or -1 (binary search)
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

-- applySettles in bucketMath.ts: settled weight whose window has ended stops counting
local function apply_settles(b, now)
  if b.settleNext == 0 or b.settleNext > now then return end
  local rest = {}
  for _, x in ipairs(read_settles(b)) do
    if x[1] <= now then b.used = math.max(0, b.used - x[2]) else rest[#rest + 1] = x end
  end
  write_settles(b, rest)
  redis.call('HSET', b.hkey, 'used', fmt(b.used), 'settleNext', fmt(b.settleNext))
end

-- Loads a bucket, drops entries that no longer count, ends hidden weight past its window and refills
-- tokens up to now (advance in bucketMath.ts).
local function load(hkey, lkey, cfg, now)
  local h = redis.call('HMGET', hkey, unpack(STATE))
  local b = { hkey = hkey, lkey = lkey, cfg = cfg, dirty = false }
  for i, f in ipairs(STATE) do b[f] = tonumber(h[i]) end
  -- a missing hash or field: the state of a new bucket (newBucketData in bucketMath.ts)
  local used, tokens = b.used, b.tokens
  b.tokensAt = b.tokensAt or now
  b.factor = b.factor or 1
  for _, f in ipairs(STATE) do
    if b[f] == nil then b[f] = 0 end
  end
  local len = redis.call('LLEN', lkey)
  if used == nil and len > 0 then
    -- the hash is gone but the log is not: never under-count, rebuild the sum from the log (settled parts too)
    for _, e in ipairs(redis.call('LRANGE', lkey, 0, -1)) do
      local _, w = parse_entry(e)
      b.used = b.used + w
    end
  end
  local popped = 0
  while len > 0 do
    local at, w, settled = parse_entry(redis.call('LINDEX', lkey, 0))
    if entry_expiry(b, at, now) > now then break end
    redis.call('LPOP', lkey)
    b.used = b.used - (w - settled)
    len = len - 1
    popped = popped + 1
  end
  b.len = len
  apply_settles(b, now)
  if len == 0 and b.settleNext == 0 then b.used = 0 end
  -- keep the stored sum equal to the log whatever the caller does next
  if popped > 0 then redis.call('HSET', hkey, 'used', fmt(b.used)) end
  if b.hidden > 0 and b.hiddenUntil <= now then b.hidden = 0 end
  roll_demand(b, now)
  local scale = pacing_scale(b)
  if tokens == nil then b.tokens = cfg.burst * scale end
  if now > b.tokensAt then
    b.tokens = math.min(cfg.burst * scale, b.tokens + (now - b.tokensAt) * cfg.refillPerMs * scale)
    b.tokensAt = now
  end
  return b
end

-- Milliseconds until `excess` weight stops counting (entries, settled groups and hidden weight, earliest first;
-- windowWait in bucketMath.ts).
local function window_wait(b, excess, now)
  local freed = 0
  local hidden_left = b.hidden > 0
  -- frees `weight` at `at` (hidden weight first when it ends by then); the time `excess` is freed by, if it is
  local function free(at, weight)
    if hidden_left and b.hiddenUntil <= at then
      freed = freed + b.hidden
      hidden_left = false
      if freed >= excess then return b.hiddenUntil end
    end
    freed = freed + weight
    if freed >= excess then return at end
    return nil
  end
  local settles, s, i = read_settles(b), 1, 0
  while i < b.len do
    local chunk = redis.call('LRANGE', b.lkey, i, i + 63)
    if #chunk == 0 then break end
    for _, e in ipairs(chunk) do
      local at, w, settled = parse_entry(e)
      local expiry = entry_expiry(b, at, now)
      while s <= #settles and settles[s][1] <= expiry do
        local t = free(settles[s][1], settles[s][2])
        if t then return t - now end
        s = s + 1
      end
      local t = free(expiry, w - settled)
      if t then return t - now end
    end
    i = i + 64
  end
  while s <= #settles do
    local t = free(settles[s][1], settles[s][2])
    if t then return t - now end
    s = s + 1
  end
  if hidden_left and freed + b.hidden >= excess then return b.hiddenUntil - now end
  return live_span(b)
end

-- Returns wait (ms, 0 = admit now) and reason ('paused' | 'window' | 'pacing' | nil).
local function wait_for(b, weight, share, now, tier)
  local floor, waiting, waiting_until
  share, floor, waiting, waiting_until = tier_room(b, share, tier, now)
  local wait, reason = 0, nil
  if b.pausedUntil > now then
    wait, reason = b.pausedUntil - now, 'paused'
  end
  if weight > 0 then
    local cap = effective_limit(b) * share + K.tokenEpsilon
    local counted = b.used + b.hidden
    if counted + weight > cap then
      local w_wait
      if weight > cap then
        w_wait = b.cfg.windowMs -- cannot fit under the current factor: look again after a window
      else
        w_wait = window_wait(b, counted + weight - cap, now)
      end
      -- the reserve above this tier shrinks as the server window's end comes; what waits above goes first
      w_wait = math.min(w_wait, reserve_wait(b, counted + waiting, weight, tier, now), waiting_until - now)
      if w_wait > wait then wait, reason = w_wait, 'window' end
    end
    if b.cfg.burst > 0 then
      local need = tokens_needed(b, weight, floor)
      local available = b.tokens - floor + K.tokenEpsilon
      if available < need then
        local rate = b.cfg.refillPerMs * pacing_scale(b)
        local p_wait = b.cfg.windowMs
        if rate > 0 then p_wait = math.ceil((need - available) / rate) end
        p_wait = math.min(p_wait, waiting_until - now)
        if p_wait > wait then wait, reason = p_wait, 'pacing' end
      end
    end
  end
  if wait < 0 then wait = 0 end
  return math.ceil(wait), reason
end

local function save(b, now)
  local args = {}
  for _, f in ipairs(STATE) do
    args[#args + 1] = f
    args[#args + 1] = fmt(b[f])
  end
  redis.call('HSET', b.hkey, unpack(args))
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  if b.len > 0 then redis.call('PEXPIRE', b.lkey, t) end
end

-- After an acquisition only the sum and the tokens changed: write just those. When every charge merged
-- into the newest log entry, the keys' expiry was set within the last granule: it still outlives the span.
local function save_charged(b, now)
  if b.born then redis.call('HSET', b.hkey, 'createdAt', fmt(b.createdAt)) end
  redis.call('HSET', b.hkey, 'used', fmt(b.used), 'tokens', fmt(b.tokens), 'tokensAt', fmt(b.tokensAt),
    'burstFrom', fmt(b.burstFrom), 'burstNow', fmt(b.burstNow), 'burstPeak', fmt(b.burstPeak), 'burstAt', fmt(b.burstAt),
    'demandFrom', fmt(b.demandFrom), 'demand0', fmt(b.demand0), 'demand1', fmt(b.demand1), 'demand2', fmt(b.demand2),
    'prior0', fmt(b.prior0), 'prior1', fmt(b.prior1), 'prior2', fmt(b.prior2))
  if b.pushed then
    local t = ttl(b, now)
    redis.call('PEXPIRE', b.hkey, t)
    redis.call('PEXPIRE', b.lkey, t)
  end
end

local function charge(b, weight, share, now, tier)
  if weight <= 0 then return end
  tier = tier or -1
  local _, floor = tier_room(b, share, tier, now)
  if tier >= 0 and tier < DEMAND_TIERS then b['demand' .. tier] = b['demand' .. tier] + weight end
  if tier == 0 then count_burst(b, weight, now) end
  if b.createdAt == 0 then
    b.createdAt = now -- the first admission: its window is the bucket's cold start
    b.born = true
  end
  local g = granule_ms(b.cfg.windowMs)
  local merged = false
  if b.len > 0 then
    local at, w, settled = parse_entry(redis.call('LINDEX', b.lkey, -1))
    if math.floor(at / g) == math.floor(now / g) then
      redis.call('LSET', b.lkey, -1, format_entry(math.max(at, now), w + weight, settled))
      merged = true
    end
  end
  if not merged then
    redis.call('RPUSH', b.lkey, fmt(now) .. ':' .. fmt(weight))
    b.len = b.len + 1
    b.pushed = true
  end
  b.used = b.used + weight
  b.dirty = true
  if b.cfg.burst > 0 then
    local need = tokens_needed(b, weight, floor)
    b.tokens = math.max(math.min(0, floor), b.tokens - need)
  end
end
