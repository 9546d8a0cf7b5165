-- A bucket's state (twin: src/store/state.ts, under the same names): numbers as text, the ARGV blocks, the log's
-- entries, the limits in force, the transit margin, when an entry stops counting, and persistence.
--
-- Every bucket script runs as: the layout tables generated from scriptLayout.ts (ARG, CFG, STATE, REPLY, EACH, K),
-- then these libraries in order (state, settle, senders, reserve, admit, observe, penalize: each file's twin is the
-- TypeScript file of the same name in src/store/), then the script. test/storeSuite.ts and
-- test/storeDifferential.test.ts hold each pair to one behaviour.
--
-- Keys of one bucket (keys.ts; both share the account's {hash tag}):
--   hash: the fields listed in STATE (BucketFields in state.ts); also `settles` (settle.lua) and `senders`
--         (senders.lua), text fields outside STATE
--   log:  "admittedAtMs:weight" or "admittedAtMs:weight:settled" entries, oldest first; one entry per granule
--         (`settled`: the part of the weight a settle took over, LogEntry in state.ts).
-- Time is Redis TIME unless the caller passes an explicit time (tests).

-- Numbers as text without loss (tostring keeps 14 digits only); nil as '', booleans as 1/0.
local function fmt(x)
  if type(x) == 'number' then return string.format('%.17g', x) end
  if x == nil then return '' end
  if x == true then return '1' end
  if x == false then return '0' end
  return x
end

-- The values of `t` under `fields` (REPLY or EACH), in order, as text.
local function pack(fields, t)
  local out = {}
  for i, f in ipairs(fields) do out[i] = fmt(t[f]) end
  return out
end

local function now_ms(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- How many bucket blocks this call carries, checked against KEYS and ARGV (and, after the blocks, whole rows for a
-- script that takes them: at least one); nil and a reason when they disagree.
-- KEYS: two per bucket, then the script's own keys (KEY, after the buckets': KEYS[2 * n + KEY.<name>]).
local function bucket_count()
  local n = 0
  if BUCKETS == 'one' then n = 1 elseif BUCKETS == 'many' then n = (#KEYS - KEY_COUNT) / 2 end
  if BUCKETS ~= 'none' and (n ~= math.floor(n) or #KEYS ~= 2 * n + KEY_COUNT) then return nil, 'keys' end
  local rows = #ARGV - ARG_COUNT - n * CFG_SIZE
  if ROW_SIZE == 0 and rows ~= 0 then return nil, 'argv' end
  if ROW_SIZE > 0 and (rows < ROW_SIZE or rows % ROW_SIZE ~= 0) then return nil, 'argv' end
  return n
end

-- How many rows (ROW) follow the `n` bucket blocks of a script that takes rows (bucket_count checked ARGV).
local function row_count(n)
  return (#ARGV - ARG_COUNT - n * CFG_SIZE) / ROW_SIZE
end

-- The block of ARGV from `base` (1-based) by the names of `fields` (CFG or ROW: name -> offset), as numbers; nil and
-- the first name read whose value is not a number, or fails `accept` when given.
local function read_block(base, fields, accept)
  local block = {}
  for name, offset in pairs(fields) do
    local v = tonumber(ARGV[base + offset])
    if v == nil or (accept and not accept(v)) then return nil, name end
    block[name] = v
  end
  return block
end

-- Row `r` (1-based) after the `n` bucket blocks, by the names of ROW; nil and the field's name when one is not a number.
local function read_row(n, r)
  return read_block(ARG_COUNT + n * CFG_SIZE + (r - 1) * ROW_SIZE + 1, ROW)
end

-- a config value: a number, not NaN, never negative
local function config_value(v)
  return v == v and v >= 0
end

-- The config block of bucket `i` (1-based), by the names of CFG; an error reply when a value is malformed.
local function read_cfg(i)
  local cfg, bad = read_block(ARG_COUNT + (i - 1) * CFG_SIZE + 1, CFG, config_value)
  if cfg == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
  if cfg.windowMs <= 0 then return redis.error_reply('KS_BAD_ARG:windowMs') end
  cfg.alignPhase = cfg.alignPhase ~= 0
  cfg.measureMargin = cfg.measureMargin ~= 0
  cfg.coldStart = cfg.coldStart ~= 0
  cfg.span = cfg.windowMs + cfg.marginMs -- the configured span (spanMs in state.ts)
  return cfg
end

local function granule_ms(window_ms)
  return math.max(1, math.min(K.granuleMaxMs, math.floor(window_ms / K.granuleDivisor)))
end

-- at, weight and the settled part (0 when absent) of a log entry
local function parse_entry(entry)
  local at, w, settled = string.match(entry, '^([^:]+):([^:]+):?(.*)$')
  return tonumber(at), tonumber(w), tonumber(settled) or 0
end

local function format_entry(at, w, settled)
  if settled > 0 then return fmt(at) .. ':' .. fmt(w) .. ':' .. fmt(settled) end
  return fmt(at) .. ':' .. fmt(w)
end

local function phase_aligned(b, now)
  return b.cfg.alignPhase and b.conflictUntil <= now and b.whi > 0
end

-- The transit margin in force (marginOf in state.ts).
local function margin_of(b)
  if not b.cfg.measureMargin or b.samplesNow + b.samplesLast < K.marginMinSamples then return b.cfg.marginMs end
  local spread = math.max(b.spreadNow, b.spreadLast)
  return math.min(K.marginMaxMs, math.max(K.marginMinMs, K.marginSpreadFactor * spread + K.marginPadMs))
end

-- liveSpanMs in state.ts
local function live_span(b)
  return b.cfg.windowMs + margin_of(b)
end

-- When an entry admitted at `at` stops counting, as seen at `now` (entryExpiry in state.ts).
local function entry_expiry(b, at, now)
  local margin = margin_of(b)
  local slide = at + b.cfg.windowMs + margin
  if not phase_aligned(b, now) or at + margin > b.wlo then return slide end
  -- surely charged to the window before the known one (its replies came before its end): that window's end
  if b.prevWhi > 0 and at + margin < b.prevWlo then return math.min(slide, b.prevWhi) end
  return math.min(slide, b.whi)
end

local function base_limit(b)
  if b.learnedLimit > 0 then return b.learnedLimit end
  return b.cfg.limit
end

local function effective_limit(b)
  return math.floor(base_limit(b) * b.factor)
end

local function pacing_scale(b)
  return (base_limit(b) / b.cfg.limit) * b.factor
end

local function token_capacity(b)
  return b.cfg.burst * pacing_scale(b)
end

-- Demand of the tiers that may hold a reserve (critical, high, normal): fields demand0..2 and prior0..2.
local DEMAND_TIERS = 3

-- Milliseconds the state must be kept when nothing touches it (keepUntil in state.ts, minus now).
local function ttl(b, now)
  local later = math.max(b.pausedUntil, b.hiddenUntil, b.whi, b.tightenedUntil, b.conflictUntil)
  return math.ceil(live_span(b) + K.idleSlackMs + math.max(0, later - now))
end

local function save(b, now)
  local args = {}
  for _, f in ipairs(STATE) do
    args[#args + 1] = f
    args[#args + 1] = fmt(b[f])
  end
  redis.call('HSET', b.hkey, unpack(args))
  local t = ttl(b, now)
  redis.call('PEXPIRE', b.hkey, t)
  if b.len > 0 then redis.call('PEXPIRE', b.lkey, t) end
end

-- After an acquisition only the sum and the tokens changed: write just those. When every charge merged
-- into the newest log entry, the keys' expiry was set within the last granule: it still outlives the span.
local function save_charged(b, now)
  if b.born then redis.call('HSET', b.hkey, 'createdAt', fmt(b.createdAt)) end
  redis.call('HSET', b.hkey, 'used', fmt(b.used), 'tokens', fmt(b.tokens), 'tokensAt', fmt(b.tokensAt),
    'burstFrom', fmt(b.burstFrom), 'burstNow', fmt(b.burstNow), 'burstPeak', fmt(b.burstPeak), 'burstAt', fmt(b.burstAt),
    'demandFrom', fmt(b.demandFrom), 'demand0', fmt(b.demand0), 'demand1', fmt(b.demand1), 'demand2', fmt(b.demand2),
    'prior0', fmt(b.prior0), 'prior1', fmt(b.prior1), 'prior2', fmt(b.prior2))
  if b.pushed then
    local t = ttl(b, now)
    redis.call('PEXPIRE', b.hkey, t)
    redis.call('PEXPIRE', b.lkey, t)
  end
end
