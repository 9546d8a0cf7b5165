-- Holds back the share of a process that may be cut off from Redis (its heartbeat is overdue, see heartbeat.lua):
-- charges the weight at the current time without any check, as absorb.lua does, once per process and bucket. The
-- guard key, named for both, lasts until holdUntil (the process's expiry plus the bucket's span), so every other
-- process asking to hold the same share finds it held.
-- Buckets: one (weight = the share to hold; burst is ignored). KEYS after the bucket's: the guard (keys.ts).
-- Reply: held, 1 when this call charged the share, 0 when it was held already or holdUntil has passed.
local now = now_ms(ARGV[ARG.time])
local hold_until = tonumber(ARGV[ARG.holdUntil])
if hold_until == nil then return redis.error_reply('KS_BAD_ARG:holdUntil') end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local guard = KEYS[2 * n + KEY.guard]
if hold_until <= now or not redis.call('SET', guard, fmt(now), 'NX', 'PX', math.ceil(hold_until - now)) then
  return pack(REPLY, { held = 0 })
end
cfg.burst = 0 -- charge() then leaves the tokens alone
absorb_weight(load(KEYS[1], KEYS[2], cfg, now), cfg.weight, now)
return pack(REPLY, { held = 1 })
