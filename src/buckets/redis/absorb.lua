-- Charges weight admitted while Redis was unreachable, at the current time, without any check: it was
-- already sent. Counting it from now over-counts (it expires later than it would have), never under-counts.
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight = the weight to absorb).
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
if cfg.weight > 0 then
  charge(b, cfg.weight, 1, now)
  save(b, now)
end
return 1
