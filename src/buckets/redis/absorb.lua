-- Charges weight admitted while Redis was unreachable, at the current time, without any check: it was
-- already sent. Counting it from now over-counts (it expires later than it would have), never under-counts.
-- Only the log and the sum change: pacing tokens, pauses and learned state are left as they are.
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight = the weight to absorb;
-- burst is ignored).
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
cfg.burst = 0 -- charge() then leaves the tokens alone
local b = load(KEYS[1], KEYS[2], cfg, now)
if cfg.weight > 0 then
  charge(b, cfg.weight, 1, now)
  redis.call('HSET', b.hkey, 'used', b.used)
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  redis.call('PEXPIRE', b.lkey, t)
end
return 1
