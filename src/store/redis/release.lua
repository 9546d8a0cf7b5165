-- Gives back what `count` admissions charged at store time `at` (release in lib/admit.lua): in each charged
-- bucket the log entry of `at`'s granule loses up to weight x count (never below 0), and the pacing tokens
-- they took come back up to the capacity. An entry that no longer counts gives nothing back; guards
-- (weight 0) are left alone. Buckets: one block per charge, as for acquire.
local now = now_ms(ARGV[ARG.time])
local share = tonumber(ARGV[ARG.share])
local count = tonumber(ARGV[ARG.count])
local at = tonumber(ARGV[ARG.at])
if share == nil or share <= 0 or share > 1 then return redis.error_reply('KS_BAD_ARG:share') end
if count == nil or count < 0 then return redis.error_reply('KS_BAD_ARG:count') end
if at == nil then return redis.error_reply('KS_BAD_ARG:at') end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end

for i = 1, n do
  local cfg = read_cfg(i)
  if cfg.err then return cfg end
  if cfg.weight > 0 and count > 0 then
    local b = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
    release(b, cfg.weight, share, count, at)
    save(b, now)
  end
end
return pack(REPLY, { now = now })
