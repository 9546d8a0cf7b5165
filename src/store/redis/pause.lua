-- Pauses one bucket until an epoch time; a longer pause already set is kept. Buckets: one.
local now = now_ms(ARGV[ARG.time])
local until_ms = tonumber(ARGV[ARG.untilMs])
if until_ms == nil then return redis.error_reply('KS_BAD_ARG:untilMs') end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
if until_ms > b.pausedUntil then b.pausedUntil = until_ms end
save(b, now)
return pack(REPLY, { pausedUntil = b.pausedUntil })
