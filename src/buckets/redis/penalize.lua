-- Applies a penalty to one bucket (see penalize() in bucketMath.ts): pause (never shortened), mark spent,
-- tighten once per window, shared exponential backoff.
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight ignored), then
-- pauseMs, spent (0/1), tightenBy (0 = none), tightenMin, backoffBaseMs (0 = none), backoffMaxMs,
-- backoffJitter, random (0..1), backoffResetAfterMs.
-- Returns {pausedUntil, factor (string), tightened (0/1), now}.
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
local pause_ms, spent = tonumber(ARGV[8]), ARGV[9] == '1'
local t_by, t_min = tonumber(ARGV[10]), tonumber(ARGV[11])
local bo_base, bo_max, bo_jitter, rnd, bo_reset = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
if pause_ms == nil or t_by == nil or t_min == nil or bo_base == nil or bo_max == nil or bo_jitter == nil or rnd == nil or bo_reset == nil then
  return redis.error_reply('KS_BAD_ARG:penalty')
end
local b = load(KEYS[1], KEYS[2], cfg, now)
local until_ms = now + math.max(0, pause_ms)
-- replies to requests sent before a backoff began land while it is in force: they do not raise it again
if bo_base > 0 and not (b.bka > 0 and b.pause > now) then
  local level = b.bkl
  if now - b.bka > bo_reset then level = 0 end
  local ms = math.min(bo_max, bo_base * 2 ^ level) * (1 - bo_jitter / 2 + bo_jitter * rnd)
  b.bkl = math.min(level + 1, 30)
  b.bka = now
  until_ms = math.max(until_ms, now + math.ceil(ms))
end
b.pause = math.max(b.pause, until_ms)
if spent then
  b.hid = math.max(b.hid, effective_limit(b))
  b.hidx = math.max(b.hidx, until_ms)
end
local tightened = 0
if t_by > 0 and now >= b.tgu then
  b.factor = math.max(t_min, b.factor * t_by)
  b.tgu = math.max(until_ms, now + 1)
  tightened = 1
end
save(b, now)
return {b.pause, tostring(b.factor), tightened, now}
