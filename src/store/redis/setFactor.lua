-- Sets one bucket's tightening factor: effective limit = floor(limit x factor); tokens above the new
-- capacity are dropped (set_factor in lib/penalize.lua). Buckets: one.
local now = now_ms(ARGV[ARG.time])
local factor = tonumber(ARGV[ARG.factor])
if factor == nil or factor <= 0 or factor > 1 then return redis.error_reply('KS_BAD_ARG:factor') end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
set_factor(b, factor)
save(b, now)
return pack(REPLY, { factor = b.factor })
