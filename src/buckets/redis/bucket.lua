-- Shared bucket functions, prepended to every script of this folder. The algorithm is the one in
-- src/buckets/bucketMath.ts; test/storeSuite.ts holds both to one behaviour.
--
-- Keys of one bucket (both share the account's {hash tag}):
--   <hkey> hash: used (weight counting now), tokens, tat (tokens refilled at, ms), pause (epoch ms),
--                factor (0..1]
--   <lkey> list: "admittedAtMs:weight" entries, oldest first; one entry per granule.
-- Time is Redis TIME unless the caller passes an explicit time (tests).

local function now_ms(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function granule(window)
  return math.max(1, math.min(25, math.floor(window / 1000)))
end

local function parse_entry(entry)
  local at, w = string.match(entry, '^([^:]+):(.+)$')
  return tonumber(at), tonumber(w)
end

-- cfg: { weight, limit, window, margin, burst, rate }; reads ARGV from offset `base`.
local function read_cfg(base)
  local cfg = {
    weight = tonumber(ARGV[base]),
    limit = tonumber(ARGV[base + 1]),
    window = tonumber(ARGV[base + 2]),
    margin = tonumber(ARGV[base + 3]),
    burst = tonumber(ARGV[base + 4]),
    rate = tonumber(ARGV[base + 5]),
  }
  for k, v in pairs(cfg) do
    if v == nil or v ~= v or v < 0 then return redis.error_reply('KS_BAD_ARG:' .. k) end
  end
  if cfg.window <= 0 then return redis.error_reply('KS_BAD_ARG:window') end
  cfg.span = cfg.window + cfg.margin
  return cfg
end

-- Loads a bucket, drops entries that no longer count and refills tokens up to now.
local function load(hkey, lkey, cfg, now)
  local h = redis.call('HMGET', hkey, 'used', 'tokens', 'tat', 'pause', 'factor')
  local b = {
    hkey = hkey, lkey = lkey, cfg = cfg,
    used = tonumber(h[1]), tokens = tonumber(h[2]), tat = tonumber(h[3]) or now,
    pause = tonumber(h[4]) or 0, factor = tonumber(h[5]) or 1,
  }
  local len = redis.call('LLEN', lkey)
  if b.used == nil then
    -- the hash is gone but the log may not be: never under-count, rebuild the sum from the log
    b.used = 0
    if len > 0 then
      for _, e in ipairs(redis.call('LRANGE', lkey, 0, -1)) do
        local _, w = parse_entry(e)
        b.used = b.used + w
      end
    end
  end
  local popped = 0
  while len > 0 do
    local at, w = parse_entry(redis.call('LINDEX', lkey, 0))
    if at + cfg.span > now then break end
    redis.call('LPOP', lkey)
    b.used = b.used - w
    len = len - 1
    popped = popped + 1
  end
  if len == 0 then b.used = 0 end
  -- keep the stored sum equal to the log whatever the caller does next
  if popped > 0 then redis.call('HSET', hkey, 'used', b.used) end
  b.len = len
  local capacity = cfg.burst * b.factor
  if b.tokens == nil then b.tokens = capacity end
  if now > b.tat then
    b.tokens = math.min(capacity, b.tokens + (now - b.tat) * cfg.rate)
    b.tat = now
  end
  return b
end

local function effective_limit(b)
  return math.floor(b.cfg.limit * b.factor)
end

local function tokens_needed(b, weight, share)
  local capacity = b.cfg.burst * b.factor
  return math.min(weight, capacity * share), capacity * (1 - share)
end

-- Returns wait (ms, 0 = admit now) and reason ('paused' | 'window' | 'pacing' | nil).
local function wait_for(b, weight, share, now)
  local wait, reason = 0, nil
  if b.pause > now then
    wait, reason = b.pause - now, 'paused'
  end
  if weight > 0 then
    local cap = effective_limit(b) * share
    if b.used + weight > cap then
      local w_wait = b.cfg.span
      if weight > cap then
        w_wait = b.cfg.window
      else
        local freed, i, done = 0, 0, false
        while not done and i < b.len do
          local chunk = redis.call('LRANGE', b.lkey, i, i + 63)
          if #chunk == 0 then break end
          for _, e in ipairs(chunk) do
            local at, w = parse_entry(e)
            freed = freed + w
            if b.used - freed + weight <= cap then
              w_wait = at + b.cfg.span - now
              done = true
              break
            end
          end
          i = i + 64
        end
      end
      if w_wait > wait then wait, reason = w_wait, 'window' end
    end
    if b.cfg.burst > 0 then
      local need, floor = tokens_needed(b, weight, share)
      local available = b.tokens - floor + 1e-9 -- float slack, as in bucketMath.ts
      if available < need then
        local p_wait = b.cfg.window
        if b.cfg.rate > 0 then p_wait = math.ceil((need - available) / b.cfg.rate) end
        if p_wait > wait then wait, reason = p_wait, 'pacing' end
      end
    end
  end
  if wait < 0 then wait = 0 end
  return math.ceil(wait), reason
end

local function ttl(b, now)
  local t = b.cfg.span + 1000
  if b.pause > now then t = t + (b.pause - now) end
  return math.ceil(t)
end

local function save(b, now)
  redis.call('HSET', b.hkey, 'used', b.used, 'tokens', tostring(b.tokens), 'tat', b.tat,
    'pause', b.pause, 'factor', tostring(b.factor))
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  if b.len > 0 then redis.call('PEXPIRE', b.lkey, t) end
end

local function charge(b, weight, share, now)
  if weight <= 0 then return end
  local g = granule(b.cfg.window)
  local merged = false
  if b.len > 0 then
    local at, w = parse_entry(redis.call('LINDEX', b.lkey, -1))
    if math.floor(at / g) == math.floor(now / g) then
      redis.call('LSET', b.lkey, -1, math.max(at, now) .. ':' .. (w + weight))
      merged = true
    end
  end
  if not merged then
    redis.call('RPUSH', b.lkey, now .. ':' .. weight)
    b.len = b.len + 1
  end
  b.used = b.used + weight
  if b.cfg.burst > 0 then
    local need = tokens_needed(b, weight, share)
    b.tokens = math.max(0, b.tokens - need)
  end
end
