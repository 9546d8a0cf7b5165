-- Reads buckets without charging anything.
-- KEYS: per bucket, hash then log. ARGV[1] time override, ARGV[2] bucket count, then 6 values a bucket.
-- Returns per bucket {used, effectiveLimit, factor, tokens, pausedUntil, limit, hidden, wlo, whi} (numbers as
-- strings), then now.
local now = now_ms(ARGV[1])
local n = tonumber(ARGV[2])
if n == nil or #KEYS ~= 2 * n then return redis.error_reply('KS_BAD_ARG:keys') end
local out = {}
for i = 1, n do
  local cfg = read_cfg(3 + (i - 1) * 6)
  if cfg.err then return cfg end
  local b = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
  local paused = 0
  if b.pause > now then paused = b.pause end
  out[#out + 1] = {tostring(b.used), tostring(effective_limit(b)), tostring(b.factor), tostring(b.tokens), tostring(paused),
    tostring(base_limit(b)), tostring(b.hid), tostring(b.wlo), tostring(b.whi)}
end
out[#out + 1] = tostring(now)
return out
