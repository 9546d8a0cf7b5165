-- Reads buckets without charging anything. Buckets: many (weights ignored).
-- Reply: now, then per bucket (EACH) its state.
local now = now_ms(ARGV[ARG.time])
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local reply = pack(REPLY, { now = now })
for i = 1, n do
  local cfg = read_cfg(i)
  if cfg.err then return cfg end
  local b = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
  local paused = 0
  if b.pausedUntil > now then paused = b.pausedUntil end
  reply[#reply + 1] = pack(EACH, {
    used = b.used, effectiveLimit = effective_limit(b), factor = b.factor, tokens = b.tokens, pausedUntil = paused,
    limit = base_limit(b), hidden = b.hidden, wlo = b.wlo, whi = b.whi,
  })
end
return reply
