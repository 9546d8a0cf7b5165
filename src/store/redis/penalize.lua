-- Applies a penalty to one bucket (penalize in lib/penalize.lua): pause (never shortened), mark spent, tighten
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
local tightened = penalize(b, {
  pauseMs = pause_ms, spent = spent, tightenBy = tighten_by, tightenMin = tighten_min, backoffBaseMs = backoff_base_ms,
  backoffMaxMs = backoff_max_ms, backoffJitter = backoff_jitter, backoffRandom = backoff_random,
  backoffResetAfterMs = backoff_reset_after_ms,
}, now)
save(b, now)
return pack(REPLY, { pausedUntil = b.pausedUntil, factor = b.factor, tightened = tightened and 1 or 0, now = now })
