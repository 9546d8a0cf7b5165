-- Acquires every bucket of one request, all or nothing.
-- KEYS: per bucket, its hash then its log (2 keys a bucket).
-- ARGV[1] time override ('' = Redis TIME), ARGV[2] share (0..1], ARGV[3] bucket count,
-- then per bucket 6 values: weight, limit, windowMs, marginMs, burst, refillPerMs.
-- Returns {1, now} when admitted, {0, now, waitMs, bucketIndex (1-based), reason} when not.
local now = now_ms(ARGV[1])
local share = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
if share == nil or share <= 0 or share > 1 then return redis.error_reply('KS_BAD_ARG:share') end
if n == nil or #KEYS ~= 2 * n then return redis.error_reply('KS_BAD_ARG:keys') end

local buckets = {}
local worst_wait, worst_index, worst_reason = 0, 0, nil
for i = 1, n do
  local cfg = read_cfg(4 + (i - 1) * 6)
  if cfg.err then return cfg end
  local b = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
  buckets[i] = b
  local wait, reason = wait_for(b, cfg.weight, share, now)
  if reason ~= nil and wait >= worst_wait then
    worst_wait, worst_index, worst_reason = math.max(wait, 1), i, reason
  end
end

if worst_reason ~= nil then
  return {0, now, worst_wait, worst_index, worst_reason}
end
for i = 1, n do
  charge(buckets[i], buckets[i].cfg.weight, share, now)
  -- a bucket charged nothing (weight 0: a guard that only pauses) needs no write
  if buckets[i].dirty then save(buckets[i], now) end
end
return {1, now}
