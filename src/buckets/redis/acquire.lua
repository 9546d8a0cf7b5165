-- Acquires every bucket of up to `count` identical requests, in order, each all or nothing; stops at the
-- first that does not fit.
-- KEYS: per bucket, its hash then its log (2 keys a bucket).
-- ARGV[1] time override ('' = Redis TIME), ARGV[2] share (0..1], ARGV[3] bucket count, ARGV[4] count,
-- then per bucket 6 values: weight, limit, windowMs, marginMs, burst, refillPerMs.
-- Returns {1, now, admitted, counted per bucket (used + hidden, strings)} when at least one was admitted,
-- {0, now, waitMs, bucketIndex (1-based), reason} when none was.
local now = now_ms(ARGV[1])
local share = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local count = tonumber(ARGV[4])
if share == nil or share <= 0 or share > 1 then return redis.error_reply('KS_BAD_ARG:share') end
if n == nil or #KEYS ~= 2 * n then return redis.error_reply('KS_BAD_ARG:keys') end
if count == nil or count < 1 then return redis.error_reply('KS_BAD_ARG:count') end

local buckets = {}
for i = 1, n do
  local cfg = read_cfg(5 + (i - 1) * 6)
  if cfg.err then return cfg end
  if cfg.weight == 0 then
    -- a guard charged nothing (system, IP without Cloudflare limit, endpoint): only its pause matters
    buckets[i] = { guard = true, cfg = cfg, pause = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'pause')) or 0 }
  else
    buckets[i] = load(KEYS[2 * i - 1], KEYS[2 * i], cfg, now)
  end
end

local admitted = 0
while admitted < count do
  local worst_wait, worst_index, worst_reason = 0, 0, nil
  for i = 1, n do
    local b = buckets[i]
    local wait, reason
    if b.guard then
      if b.pause > now then wait, reason = b.pause - now, 'paused' end
    else
      wait, reason = wait_for(b, b.cfg.weight, share, now)
    end
    if reason ~= nil and wait >= worst_wait then
      worst_wait, worst_index, worst_reason = math.max(wait, 1), i, reason
    end
  end
  if worst_reason ~= nil then
    if admitted == 0 then return {0, now, math.ceil(worst_wait), worst_index, worst_reason} end
    break
  end
  for i = 1, n do
    if not buckets[i].guard then charge(buckets[i], buckets[i].cfg.weight, share, now) end
  end
  admitted = admitted + 1
end
local reply = {1, now, admitted}
for i = 1, n do
  local b = buckets[i]
  if b.dirty then save_charged(b, now) end
  if b.guard then reply[#reply + 1] = '0' else reply[#reply + 1] = tostring(b.used + b.hid) end
end
return reply
