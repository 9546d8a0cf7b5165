-- Applies a penalty to one bucket (penalize in bucketMath.ts): pause (never shortened), mark spent, tighten
-- once per window, shared exponential backoff. Absent parts come as 0 (tightenBy 0 = no tightening,
-- backoffBaseMs 0 = no backoff). Buckets: one.
local now = now_ms(ARGV[ARG.time])
local pause_ms = tonumber(ARGV[ARG.pauseMs])
local spent = ARGV[ARG.spent] == '1'
local tighten_by = tonumber(ARGV[ARG.tightenBy])
local tighten_min = tonumber(ARGV[ARG.tightenMin])
local backoff_base_ms = tonumber(ARGV[ARG.backoffBaseMs])
local backoff_max_ms = tonumber(ARGV[ARG.backoffMaxMs])
local backoff_jitter = tonumber(ARGV[ARG.backoffJitter])
local backoff_random = tonumber(ARGV[ARG.backoffRandom])
local backoff_reset_after_ms = tonumber(ARGV[ARG.backoffResetAfterMs])
if pause_ms == nil or tighten_by == nil or tighten_min == nil or backoff_base_ms == nil or backoff_max_ms == nil
  or backoff_jitter == nil or backoff_random == nil or backoff_reset_after_ms == nil then
  return redis.error_reply('KS_BAD_ARG:penalty')
end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
local until_ms = now + math.max(0, pause_ms)
-- replies to requests sent before a backoff began land while it is in force: they do not raise it again
if backoff_base_ms > 0 and not (b.backoffAt > 0 and b.pausedUntil > now) then
  local level = b.backoffLevel
  if now - b.backoffAt > backoff_reset_after_ms then level = 0 end
  local ms = math.min(backoff_max_ms, backoff_base_ms * 2 ^ level) * (1 - backoff_jitter / 2 + backoff_jitter * backoff_random)
  b.backoffLevel = math.min(level + 1, K.maxBackoffLevel)
  b.backoffAt = now
  until_ms = math.max(until_ms, now + math.ceil(ms))
end
b.pausedUntil = math.max(b.pausedUntil, until_ms)
if spent then
  b.hidden = math.max(b.hidden, effective_limit(b))
  b.hiddenUntil = math.max(b.hiddenUntil, until_ms)
end
local tightened = 0
if tighten_by > 0 and now >= b.tightenedUntil then
  b.factor = math.max(tighten_min, b.factor * tighten_by)
  b.tightenedUntil = math.max(until_ms, now + 1)
  tightened = 1
end
save(b, now)
return pack(REPLY, { pausedUntil = b.pausedUntil, factor = b.factor, tightened = tightened, now = now })
