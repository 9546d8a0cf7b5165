-- Clears a bucket's pause, its spent marking (hidden weight), its backoff level and its tightening (resume in
-- lib/penalize.lua).
-- Buckets: one.
local now = now_ms(ARGV[ARG.time])
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
resume(b)
save(b, now)
return pack(REPLY, { now = now })
