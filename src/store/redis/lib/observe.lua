-- What a reply's gw-ratelimit-* headers teach (twin: src/store/observe.ts): the limit in force within its
-- bounds, the server window's phase (and contradictions: two server windows behind one identity), the spread of
-- transit delays, hidden weight, and where the request itself landed (settle.lua).

-- resetUsable in observe.ts: a reset within [0, windowMs + span] (a larger one is garbage)
local function reset_usable(b, o)
  return o.resetMs >= 0 and o.resetMs <= b.cfg.windowMs + b.cfg.span
end

-- narrowKnownWindow in observe.ts: narrows the known window's end to [lo, hi] when they meet, and measures the
-- transit spread; false when they do not meet
local function narrow_known_window(b, lo, hi)
  if not (b.whi > 0 and lo <= b.whi and hi >= b.wlo) then return false end
  b.wlo = math.max(b.wlo, lo)
  b.whi = math.min(b.whi, hi)
  b.spreadLo = math.min(b.spreadLo, lo)
  b.spreadNow = math.max(b.spreadNow, b.wlo - b.spreadLo)
  b.samplesNow = b.samplesNow + 1
  return true
end

-- learnLimit in observe.ts
local function learn_limit(b, o, sent_at)
  local offered = o.limit
  if not (offered > 0) then return 'none' end
  if math.floor(offered) ~= offered or offered < o.minLimit or offered > o.maxLimit then return 'refused' end
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

-- placeWindow in observe.ts: 'current', 'older', 'conflict' or 'unplaced'
local function place_window(b, o, sent_at, now)
  if not reset_usable(b, o) then return 'unplaced' end
  local lo, hi = sent_at + o.resetMs, now + o.resetMs
  local w = b.cfg.windowMs
  if b.whi == 0 then
    b.wlo, b.whi = lo, hi
    b.spreadLo, b.samplesNow = lo, 1
  elseif narrow_known_window(b, lo, hi) then
    -- the same window seen again
  elseif lo > b.whi and hi >= b.wlo + w then
    -- a new window: the one before it was clean if no penalty reached into it
    if b.factor < 1 and b.tightenedUntil < b.wlo then b.factor = math.min(1, b.factor + o.recoverStep) end
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

-- weightAfter in observe.ts: our weight admitted after sent_at, read from the newest entry back
local function weight_after(b, sent_at)
  local after, back = 0, b.len - 1
  while back >= 0 do
    local chunk = redis.call('LRANGE', b.lkey, math.max(0, back - K.logChunk + 1), back)
    for j = #chunk, 1, -1 do
      local at, w = parse_entry(chunk[j])
      if not (at > sent_at) then return after end
      after = after + w
      back = back - 1
    end
  end
  return after
end

-- lastingWeight in observe.ts: our unsettled log weight that keeps counting until until_ms or later (a suffix of
-- the log), read K.logChunk entries at a time from the front and from the back until one end meets the boundary
local function lasting_weight(b, settles, until_ms, now)
  local front, back, prefix, suffix = 0, b.len - 1, 0, 0
  while front <= back do
    for _, e in ipairs(redis.call('LRANGE', b.lkey, front, math.min(back, front + K.logChunk - 1))) do
      local at, w, settled = parse_entry(e)
      if entry_expiry(b, at, now) >= until_ms then
        local log_weight = b.used
        for _, x in ipairs(settles) do log_weight = log_weight - x[2] end
        return math.max(0, log_weight - prefix)
      end
      prefix = prefix + (w - settled)
      front = front + 1
    end
    if front <= back then
      local chunk = redis.call('LRANGE', b.lkey, math.max(front, back - K.logChunk + 1), back)
      for j = #chunk, 1, -1 do
        local at, w, settled = parse_entry(chunk[j])
        if entry_expiry(b, at, now) < until_ms then return suffix end
        suffix = suffix + (w - settled)
        back = back - 1
      end
    end
  end
  return suffix
end

-- observe in observe.ts. `o`: sentAt, limit, remaining, resetMs, recoverStep, minLimit, maxLimit, weight (normalized:
-- -1 = a missing header). Returns the reply's fields (applied, limit, limitInForce, phaseConflict, freed) and whether
-- b changed.
local function observe(b, o, now)
  local sent_at = math.min(o.sentAt, now) -- never sent after it is applied
  local counted_before = b.used + b.hidden -- what stops counting because of this reply is reported (freed)
  local function freed()
    return math.max(0, counted_before - b.used - b.hidden)
  end
  -- where the request landed holds whatever the order replies come back in
  local settled = reset_usable(b, o) and settle(b, sent_at, o.weight, now + o.resetMs, now)
  if sent_at < b.observedAt then
    -- an older response never overwrites newer knowledge, but its bounds still hold and its delay is a sample
    -- of the spread (see observe in observe.ts)
    local narrowed = reset_usable(b, o) and narrow_known_window(b, sent_at + o.resetMs, now + o.resetMs)
    return { applied = 0, limit = 'none', limitInForce = base_limit(b), phaseConflict = 0, freed = freed() }, narrowed or settled
  end
  b.observedAt = sent_at
  local limit_status = learn_limit(b, o, sent_at)
  local phase_conflict = 0
  local placement = place_window(b, o, sent_at, now)
  if placement == 'conflict' and b.cfg.alignPhase then
    b.conflictUntil = math.max(b.conflictUntil, now + K.conflictWindows * b.cfg.windowMs)
    phase_conflict = 1
  end
  -- L - R is the server's count in the reply's own terms: its limit when that is a plausible one
  local server_limit = o.limit
  if limit_status == 'none' or limit_status == 'refused' then server_limit = base_limit(b) end
  -- the hidden weight counts until the end of the reply's own window (see observe in observe.ts): nothing for a
  -- window that is over, until a window from now when the reply placed none
  local until_ms = b.whi
  if placement == 'unplaced' or placement == 'conflict' then
    until_ms = now + b.cfg.windowMs
    if b.whi > now then until_ms = b.whi end
  end
  -- reckoned from every reply while there is hidden weight, else at most every K.hiddenEveryMs (see observe)
  local reckon = b.hidden > 0 or b.hiddenAt == 0 or now - b.hiddenAt >= K.hiddenEveryMs
  if reckon and o.remaining >= 0 and server_limit > 0 and placement ~= 'older' and until_ms > now then
    b.hiddenAt = now
    local settles = read_settles(b)
    local after = weight_after(b, sent_at)
    local lasting = lasting_weight(b, settles, until_ms, now)
    -- settled weight lasts when it leaves at this window's end (not a later window's: that is not in L - R)
    for _, x in ipairs(settles) do
      if x[1] >= until_ms and x[1] < until_ms + b.cfg.windowMs / 2 then lasting = lasting + x[2] end
    end
    local server_used = math.max(0, server_limit - o.remaining) + after
    b.hidden = math.max(0, server_used - lasting)
    if b.hidden > 0 then b.hiddenUntil = until_ms else b.hiddenUntil = 0 end
    b.hiddenNow = b.hidden -- the newest, not the most (see BucketFields.hiddenNow in state.ts)
  end
  return { applied = 1, limit = limit_status, limitInForce = base_limit(b), phaseConflict = phase_conflict, freed = freed() }, true
end
