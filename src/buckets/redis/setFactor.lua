-- Sets one bucket's tightening factor: effective limit = floor(limit x factor).
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight ignored), then factor.
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
local factor = tonumber(ARGV[8])
if factor == nil or factor <= 0 or factor > 1 then return redis.error_reply('KS_BAD_ARG:factor') end
local b = load(KEYS[1], KEYS[2], cfg, now)
b.factor = factor
b.tokens = math.min(b.tokens, cfg.burst * factor)
save(b, now)
return 1
