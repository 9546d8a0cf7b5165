-- Shared bucket functions, prepended to every script of this folder. The algorithm is the one in
-- src/buckets/bucketMath.ts; test/storeSuite.ts holds both to one behaviour.
--
-- Keys of one bucket (both share the account's {hash tag}):
--   <hkey> hash: used (weight counting now), tokens, tat (tokens refilled at, ms), pause (epoch ms),
--                factor (0..1], llim (limit learned from headers), wlo/whi (bounds of the known server
--                window end), obs (admission time of the newest observation), hid/hidx (hidden weight
--                and when it stops counting), tgu (end of the window last tightened for), bkl/bka
--                (backoff level and when it was last raised)
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

local function num(v, default)
  local n = tonumber(v)
  if n == nil then return default end
  return n
end

-- When an entry admitted at `at` stops counting (see entryExpiry in bucketMath.ts).
local function expiry(b, at)
  local slide = at + b.cfg.span
  if b.whi > 0 and at + b.cfg.margin <= b.wlo then return math.min(slide, b.whi) end
  return slide
end

local function base_limit(b)
  if b.llim > 0 then return b.llim end
  return b.cfg.limit
end

local function pacing_scale(b)
  return (base_limit(b) / b.cfg.limit) * b.factor
end

-- Loads a bucket, drops entries that no longer count, ends hidden weight past its window and refills
-- tokens up to now.
local function load(hkey, lkey, cfg, now)
  local h = redis.call('HMGET', hkey, 'used', 'tokens', 'tat', 'pause', 'factor', 'llim', 'wlo', 'whi', 'obs', 'hid',
    'hidx', 'tgu', 'bkl', 'bka')
  local b = {
    hkey = hkey, lkey = lkey, cfg = cfg, dirty = false,
    used = tonumber(h[1]), tokens = tonumber(h[2]), tat = num(h[3], now),
    pause = num(h[4], 0), factor = num(h[5], 1), llim = num(h[6], 0),
    wlo = num(h[7], 0), whi = num(h[8], 0), obs = num(h[9], 0), hid = num(h[10], 0), hidx = num(h[11], 0),
    tgu = num(h[12], 0), bkl = num(h[13], 0), bka = num(h[14], 0),
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
    if expiry(b, at) > now then break end
    redis.call('LPOP', lkey)
    b.used = b.used - w
    len = len - 1
    popped = popped + 1
  end
  if len == 0 then b.used = 0 end
  -- keep the stored sum equal to the log whatever the caller does next
  if popped > 0 then redis.call('HSET', hkey, 'used', b.used) end
  if b.hid > 0 and b.hidx <= now then b.hid = 0 end
  b.len = len
  local scale = pacing_scale(b)
  local capacity = cfg.burst * scale
  if b.tokens == nil then b.tokens = capacity end
  if now > b.tat then
    b.tokens = math.min(capacity, b.tokens + (now - b.tat) * cfg.rate * scale)
    b.tat = now
  end
  return b
end

local function effective_limit(b)
  return math.floor(base_limit(b) * b.factor)
end

local function tokens_needed(b, weight, share)
  local capacity = b.cfg.burst * pacing_scale(b)
  return math.min(weight, capacity * share), capacity * (1 - share)
end

-- Milliseconds until `excess` weight stops counting (entries and hidden weight, earliest first).
local function window_wait(b, excess, now)
  local freed, i = 0, 0
  local hidden_left = b.hid > 0
  while i < b.len do
    local chunk = redis.call('LRANGE', b.lkey, i, i + 63)
    if #chunk == 0 then break end
    for _, e in ipairs(chunk) do
      local at, w = parse_entry(e)
      local x = expiry(b, at)
      if hidden_left and b.hidx <= x then
        freed = freed + b.hid
        hidden_left = false
        if freed >= excess then return b.hidx - now end
      end
      freed = freed + w
      if freed >= excess then return x - now end
    end
    i = i + 64
  end
  if hidden_left and freed + b.hid >= excess then return b.hidx - now end
  return b.cfg.span
end

-- Returns wait (ms, 0 = admit now) and reason ('paused' | 'window' | 'pacing' | nil).
local function wait_for(b, weight, share, now)
  local wait, reason = 0, nil
  if b.pause > now then
    wait, reason = b.pause - now, 'paused'
  end
  if weight > 0 then
    local cap = effective_limit(b) * share
    local counted = b.used + b.hid
    if counted + weight > cap then
      local w_wait
      if weight > cap then
        w_wait = b.cfg.window -- cannot fit under the current factor: look again after a window
      else
        w_wait = window_wait(b, counted + weight - cap, now)
      end
      if w_wait > wait then wait, reason = w_wait, 'window' end
    end
    if b.cfg.burst > 0 then
      local need, floor = tokens_needed(b, weight, share)
      local available = b.tokens - floor + 1e-9 -- float slack, as in bucketMath.ts
      if available < need then
        local rate = b.cfg.rate * pacing_scale(b)
        local p_wait = b.cfg.window
        if rate > 0 then p_wait = math.ceil((need - available) / rate) end
        if p_wait > wait then wait, reason = p_wait, 'pacing' end
      end
    end
  end
  if wait < 0 then wait = 0 end
  return math.ceil(wait), reason
end

local function ttl(b, now)
  local t = b.cfg.span + 1000
  local later = math.max(b.pause, b.hidx, b.whi, b.tgu)
  if later > now then t = t + (later - now) end
  return math.ceil(t)
end

local function save(b, now)
  redis.call('HSET', b.hkey, 'used', b.used, 'tokens', tostring(b.tokens), 'tat', b.tat,
    'pause', b.pause, 'factor', tostring(b.factor), 'llim', b.llim, 'wlo', b.wlo, 'whi', b.whi,
    'obs', b.obs, 'hid', b.hid, 'hidx', b.hidx, 'tgu', b.tgu, 'bkl', b.bkl, 'bka', b.bka)
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  if b.len > 0 then redis.call('PEXPIRE', b.lkey, t) end
end

-- After an acquisition only the sum and the tokens changed: write just those. When every charge merged
-- into the newest log entry, the keys' expiry was set within the last granule: it still outlives the span.
local function save_charged(b, now)
  redis.call('HSET', b.hkey, 'used', b.used, 'tokens', tostring(b.tokens), 'tat', b.tat)
  if b.pushed then
    local t = ttl(b, now)
    redis.call('PEXPIRE', b.hkey, t)
    redis.call('PEXPIRE', b.lkey, t)
  end
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
    b.pushed = true
  end
  b.used = b.used + weight
  b.dirty = true
  if b.cfg.burst > 0 then
    local need = tokens_needed(b, weight, share)
    b.tokens = math.max(0, b.tokens - need)
  end
end
