-- Admission (twin: src/store/admit.ts): a bucket brought to now (load), the wait before a request fits, charging
-- an admitted request and giving back one that was not sent.

-- tokensNeeded in admit.ts
local function tokens_needed(b, weight, floor)
  return math.min(weight, math.max(0, token_capacity(b) - floor))
end

-- Loads a bucket, drops entries that no longer count, ends hidden weight past its window and refills
-- tokens up to now (advance in admit.ts).
local function load(hkey, lkey, cfg, now)
  local h = redis.call('HMGET', hkey, unpack(STATE))
  local b = { hkey = hkey, lkey = lkey, cfg = cfg, dirty = false }
  for i, f in ipairs(STATE) do b[f] = tonumber(h[i]) end
  -- a missing hash or field: the state of a new bucket (newBucketData in state.ts)
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
-- windowWait in admit.ts), reckoned from the first K.waitEntries entries of the log.
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
  local settles, s, expiry = read_settles(b), 1, now
  local read = math.min(b.len, K.waitEntries)
  if read > 0 then
    for _, e in ipairs(redis.call('LRANGE', b.lkey, 0, read - 1)) do
      local at, w, settled = parse_entry(e)
      expiry = entry_expiry(b, at, now)
      while s <= #settles and settles[s][1] <= expiry do
        local t = free(settles[s][1], settles[s][2])
        if t then return t - now end
        s = s + 1
      end
      local t = free(expiry, w - settled)
      if t then return t - now end
    end
  end
  -- entries left unread: nothing frees `excess` before the last one read expires (a lower bound, asked again then)
  if read < b.len then return expiry - now end
  while s <= #settles do
    local t = free(settles[s][1], settles[s][2])
    if t then return t - now end
    s = s + 1
  end
  if hidden_left and freed + b.hidden >= excess then return b.hiddenUntil - now end
  return live_span(b)
end

-- pacingTurnWait in admit.ts: a pacing refusal's wait when `ahead` weight of other senders waits for tokens
local function pacing_turn_wait(b, wait, ahead)
  if not (ahead > 0) then return wait end
  local rate = b.cfg.refillPerMs * pacing_scale(b)
  if not (rate > 0) then return wait end
  local full = (token_capacity(b) - b.tokens) / rate
  return math.ceil(math.max(wait, math.min(wait + ahead / rate, full)))
end

-- Returns wait (ms, 0 = admit now) and reason ('paused' | 'window' | 'pacing' | nil); with a sender id (and a
-- tier), a wait for pacing tokens takes its turn behind the other senders waiting for them (waitFor in admit.ts).
local function wait_for(b, weight, share, now, tier, sender_id)
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
        if p_wait > wait then
          if sender_id ~= nil and tier ~= nil and tier >= 0 then
            p_wait = pacing_turn_wait(b, p_wait, weight_ahead(b, sender_id, tier, weight, now))
          end
          wait, reason = p_wait, 'pacing'
        end
      end
    end
  end
  if wait < 0 then wait = 0 end
  return math.ceil(wait), reason
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
    -- an entry never starts before the newest (a clock that steps back merges into it): entries stay in time order
    if math.floor(at / g) == math.floor(now / g) or now < at then
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

-- release in admit.ts: gives back what `count` admissions of `weight` charged at `at`: the log entry of `at`'s
-- granule loses up to weight x count (never below 0, never its settled part), and their pacing tokens come back
local function release(b, weight, share, count, at)
  if weight <= 0 or count <= 0 then return end
  local g = granule_ms(b.cfg.windowMs)
  local granule = math.floor(at / g)
  for i = -1, -b.len, -1 do
    local entry_at, w, settled = parse_entry(redis.call('LINDEX', b.lkey, i))
    local eg = math.floor(entry_at / g)
    if eg < granule then return end
    if eg == granule then
      local back = math.min(w - settled, weight * count)
      redis.call('LSET', b.lkey, i, format_entry(entry_at, w - back, settled))
      b.used = math.max(0, b.used - back)
      if b.cfg.burst > 0 then
        local need = tokens_needed(b, weight, token_capacity(b) * (1 - share))
        b.tokens = math.min(token_capacity(b), b.tokens + need * count)
      end
      return
    end
  end
end

-- Charges `weight` already sent (or held back) at `now` without any check, leaving tokens, pauses and learned state
-- as they are (record in memoryStore.ts); `b` was loaded with burst 0. Writes the sum and the keys' expiry.
local function absorb_weight(b, weight, now)
  if weight <= 0 then return end
  charge(b, weight, 1, now)
  redis.call('HSET', b.hkey, 'used', fmt(b.used))
  if b.born then redis.call('HSET', b.hkey, 'createdAt', fmt(b.createdAt)) end
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  redis.call('PEXPIRE', b.lkey, t)
end
