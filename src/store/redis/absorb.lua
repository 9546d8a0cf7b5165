-- Charges weight admitted while Redis was unreachable, at the current time, without any check: it was
-- already sent. Counting it from now over-counts (it expires later than it would have), never under-counts.
-- Only the log and the sum change: pacing tokens, pauses and learned state are left as they are.
-- Buckets: one (weight = the weight to absorb; burst is ignored).
local now = now_ms(ARGV[ARG.time])
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
cfg.burst = 0 -- charge() then leaves the tokens alone
local b = load(KEYS[1], KEYS[2], cfg, now)
absorb_weight(b, cfg.weight, now)
return pack(REPLY, { used = b.used })
