-- Pauses one bucket until an epoch time; a longer pause already set is kept.
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight ignored), then untilMs.
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
local until_ms = tonumber(ARGV[8])
if until_ms == nil then return redis.error_reply('KS_BAD_ARG:until') end
local b = load(KEYS[1], KEYS[2], cfg, now)
if until_ms > b.pause then b.pause = until_ms end
save(b, now)
return b.pause
