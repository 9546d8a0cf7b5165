-- Clears a bucket's pause, its spent marking (hidden weight), its backoff level and its tightening (resume in
-- bucketMath.ts).
-- Buckets: one.
local now = now_ms(ARGV[ARG.time])
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
b.pausedUntil = 0
b.hidden = 0
b.hiddenUntil = 0
b.backoffLevel = 0
b.backoffAt = 0
b.factor = 1
b.tightenedUntil = 0
save(b, now)
return pack(REPLY, { now = now })
