-- Applies one response's gw-ratelimit-* headers to a bucket (observe in bucketMath.ts): the limit learned
-- within [minLimit, maxLimit] (a raise only once a later reply confirms it), the server window's phase (and
-- contradictions: two server windows behind one identity), hidden weight. Headers arrive normalized
-- (validate.ts): -1 = missing. Buckets: one.
local now = now_ms(ARGV[ARG.time])
local sent_at = tonumber(ARGV[ARG.sentAt])
local offered = tonumber(ARGV[ARG.limit])
local remaining = tonumber(ARGV[ARG.remaining])
local reset_ms = tonumber(ARGV[ARG.resetMs])
local recover_step = tonumber(ARGV[ARG.recoverStep])
local min_limit = tonumber(ARGV[ARG.minLimit])
local max_limit = tonumber(ARGV[ARG.maxLimit])
local request_weight = tonumber(ARGV[ARG.requestWeight])
if sent_at == nil or offered == nil or remaining == nil or reset_ms == nil or recover_step == nil or min_limit == nil or max_limit == nil or request_weight == nil then
  return redis.error_reply('KS_BAD_ARG:observation')
end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
if sent_at > now then sent_at = now end -- never sent after it is applied
local b = load(KEYS[1], KEYS[2], cfg, now)
local counted_before = b.used + b.hidden -- what stops counting because of this reply is reported (freed)
local function freed()
  return math.max(0, counted_before - b.used - b.hidden)
end

-- narrowKnownWindow in bucketMath.ts: narrows the known window's end to [lo, hi] when they meet, and measures
-- the transit spread; false when they do not meet
local function narrow_known_window(lo, hi)
  if not (b.whi > 0 and lo <= b.whi and hi >= b.wlo) then return false end
  b.wlo = math.max(b.wlo, lo)
  b.whi = math.min(b.whi, hi)
  b.spreadLo = math.min(b.spreadLo, lo)
  b.spreadNow = math.max(b.spreadNow, b.wlo - b.spreadLo)
  b.samplesNow = b.samplesNow + 1
  return true
end

-- settle in bucketMath.ts: the request stops counting when the window it landed in ends; true when it changed b
local function settle(weight, end_ms)
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
  local g = granule_ms(cfg.windowMs)
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

local reset_usable = reset_ms >= 0 and reset_ms <= cfg.windowMs + cfg.span
-- where the request landed holds whatever the order replies come back in
local settled = reset_usable and settle(request_weight, now + reset_ms)
if sent_at < b.observedAt then
  -- an older response never overwrites newer knowledge, but its bounds still hold and its delay is a sample
  -- of the spread (see observe in bucketMath.ts)
  local narrowed = reset_usable and narrow_known_window(sent_at + reset_ms, now + reset_ms)
  if narrowed or settled then save(b, now) end
  return pack(REPLY, { applied = 0, limit = 'none', limitInForce = base_limit(b), phaseConflict = 0, freed = freed() })
end
b.observedAt = sent_at

-- learnLimit in bucketMath.ts
local function learn_limit()
  if not (offered > 0) then return 'none' end
  if math.floor(offered) ~= offered or offered < min_limit or offered > max_limit then return 'refused' end
  local in_force = base_limit(b)
  if offered <= in_force or (b.pendingLimit == offered and sent_at > b.pendingAt) then
    b.pendingLimit = 0
    b.pendingAt = 0
    if offered == in_force then return 'same' end
    b.learnedLimit = offered
    return 'learned'
  end
  if b.pendingLimit ~= offered then
    b.pendingLimit = offered
    b.pendingAt = sent_at
  end
  return 'pending'
end

-- placeWindow in bucketMath.ts: 'current', 'older', 'conflict' or 'unplaced'
local function place_window()
  if not reset_usable then return 'unplaced' end
  local lo, hi = sent_at + reset_ms, now + reset_ms
  local w = cfg.windowMs
  if b.whi == 0 then
    b.wlo, b.whi = lo, hi
    b.spreadLo, b.samplesNow = lo, 1
  elseif narrow_known_window(lo, hi) then
    -- the same window seen again
  elseif lo > b.whi and hi >= b.wlo + w then
    -- a new window: the one before it was clean if no penalty reached into it
    if b.factor < 1 and b.tightenedUntil < b.wlo then b.factor = math.min(1, b.factor + recover_step) end
    b.prevWlo, b.prevWhi = b.wlo, b.whi
    b.wlo, b.whi = lo, hi
    b.spreadLast = math.max(b.spreadNow, b.spreadLast * K.spreadFade) -- a rare slow request is not forgotten at once
    b.samplesLast = b.samplesNow
    b.hiddenLast, b.hiddenNow = b.hiddenNow, 0
    b.hiddenAt = 0
    b.spreadLo, b.spreadNow, b.samplesNow = lo, 0, 1
  elseif lo <= b.whi - w and hi >= b.wlo - w then
    return 'older'
  else
    return 'conflict'
  end
  return 'current'
end

local limit_status = learn_limit()
local phase_conflict = 0
local placement = place_window()
if placement == 'conflict' and cfg.alignPhase then
  b.conflictUntil = math.max(b.conflictUntil, now + K.conflictWindows * cfg.windowMs)
  phase_conflict = 1
end
-- L - R is the server's count in the reply's own terms: its limit when that is a plausible one
local server_limit = offered
if limit_status == 'none' or limit_status == 'refused' then server_limit = base_limit(b) end
-- the hidden weight counts until the end of the reply's own window (see observe in bucketMath.ts): nothing
-- for a window that is over, until a window from now when the reply placed none
local until_ms = b.whi
if placement == 'unplaced' or placement == 'conflict' then
  until_ms = now + cfg.windowMs
  if b.whi > now then until_ms = b.whi end
end
-- reckoned from every reply while there is hidden weight, else at most every K.hiddenEveryMs (see observe)
local reckon = b.hidden > 0 or b.hiddenAt == 0 or now - b.hiddenAt >= K.hiddenEveryMs
if reckon and remaining >= 0 and server_limit > 0 and placement ~= 'older' and until_ms > now then
  b.hiddenAt = now
  local after, lasting = 0, 0
  if b.len > 0 then
    for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
      local at, w, settled = parse_entry(e)
      if at > sent_at then after = after + w end
      if entry_expiry(b, at, now) >= until_ms then lasting = lasting + (w - settled) end
    end
  end
  -- settled weight lasts when it leaves at this window's end (not a later window's: that is not in L - R)
  for _, x in ipairs(read_settles(b)) do
    if x[1] >= until_ms and x[1] < until_ms + cfg.windowMs / 2 then lasting = lasting + x[2] end
  end
  local server_used = math.max(0, server_limit - remaining) + after
  b.hidden = math.max(0, server_used - lasting)
  if b.hidden > 0 then b.hiddenUntil = until_ms else b.hiddenUntil = 0 end
  b.hiddenNow = b.hidden -- the newest, not the most (see BucketFields.hiddenNow in bucketMath.ts)
end
save(b, now)
return pack(REPLY, { applied = 1, limit = limit_status, limitInForce = base_limit(b), phaseConflict = phase_conflict, freed = freed() })
