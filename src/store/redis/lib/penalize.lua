-- What the feedback layer does to a bucket (twin: src/store/penalize.ts): pauses, a shared backoff, the
-- tightening factor, and resume.

-- penalize in penalize.ts. `p`: pauseMs, spent, tightenBy and tightenMin (tightenBy 0: no tightening), backoffBaseMs
-- (0: no backoff), backoffMaxMs, backoffJitter, backoffRandom, backoffResetAfterMs. Returns whether it tightened.
local function penalize(b, p, now)
  local until_ms = now + math.max(0, p.pauseMs)
  -- replies to requests sent before a backoff began land while it is in force: they do not raise it again
  if p.backoffBaseMs > 0 and not (b.backoffAt > 0 and b.pausedUntil > now) then
    local level = b.backoffLevel
    if now - b.backoffAt > p.backoffResetAfterMs then level = 0 end
    local ms = math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ^ level) * (1 - p.backoffJitter / 2 + p.backoffJitter * p.backoffRandom)
    b.backoffLevel = math.min(level + 1, K.maxBackoffLevel)
    b.backoffAt = now
    until_ms = math.max(until_ms, now + math.ceil(ms))
  end
  b.pausedUntil = math.max(b.pausedUntil, until_ms)
  if p.spent then
    b.hidden = math.max(b.hidden, effective_limit(b))
    b.hiddenUntil = math.max(b.hiddenUntil, until_ms)
  end
  if p.tightenBy > 0 and now >= b.tightenedUntil then
    b.factor = math.max(p.tightenMin, b.factor * p.tightenBy)
    b.tightenedUntil = math.max(until_ms, now + 1)
    return true
  end
  return false
end

-- resume in penalize.ts: clears the pause, the spent marking (hidden weight), the backoff level and the tightening
local function resume(b)
  b.factor = 1
  b.tightenedUntil = 0
  b.pausedUntil = 0
  b.hidden = 0
  b.hiddenUntil = 0
  b.backoffLevel = 0
  b.backoffAt = 0
end

-- setFactor in penalize.ts: tokens above the new capacity are dropped
local function set_factor(b, factor)
  b.factor = factor
  b.tokens = math.min(b.tokens, token_capacity(b))
end
