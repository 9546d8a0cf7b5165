-- Gives back what `count` admissions charged at store time `at` (release in bucketMath.ts): in each charged
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

local function release(b, weight)
  local g = granule_ms(b.cfg.windowMs)
  local granule = math.floor(at / g)
  for i = -1, -b.len, -1 do
    local entry_at, w, settled = parse_entry(redis.call('LINDEX', b.lkey, i))
    local eg = math.floor(entry_at / g)
    if eg < granule then return end
    if eg == granule then
      local back = math.min(w - settled, weight * count)
      redis.call('LSET', b.lkey, i, format_entry(entry_at, w - back, settled))
      b.used = math.max(0, b.used - back)
      if b.cfg.burst > 0 then
        local need = tokens_needed(b, weight, token_capacity(b) * (1 - share))
        b.tokens = math.min(token_capacity(b), b.tokens + need * count)
      end
      return
    end
  end
end

for i = 1, n do
  local cfg = read_cfg(i)
  if cfg.err then return cfg end
  if cfg.weight > 0 and count > 0 then
    local b = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
    release(b, cfg.weight)
    save(b, now)
  end
end
return pack(REPLY, { now = now })
