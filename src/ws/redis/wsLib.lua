-- Shared by every WebSocket budget script (loaded after the generated prelude, before the script).

-- A numeric argument, or nil when it is missing or out of range.
local function num_arg(name, min)
  local v = tonumber(ARGV[ARG[name]])
  if v == nil or v ~= v or v < min then return nil end
  return v
end

-- Drops lapsed leases.
local function purge_sessions(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end

-- What the fleet learned from the server about `what` (sessionLimit, topicsPerMessage, topicsPerSession)
-- while it is in force, else nil. Mirrors learnedValue in wsBudgetMath.ts.
local function learned(state_key, what, now)
  local value = tonumber(redis.call('HGET', state_key, 'learned:' .. what) or '0') or 0
  local until_ms = tonumber(redis.call('HGET', state_key, 'learned:' .. what .. ':until') or '0') or 0
  if until_ms > now and value > 0 then return value end
  return nil
end

-- After a 509 session count: the sessions the fleet held then, one more for every capStepMs since. Mirrors
-- sessionCap in wsBudgetMath.ts.
local function session_cap(state_key, now)
  local cap = tonumber(redis.call('HGET', state_key, 'capValue') or '')
  local step = tonumber(redis.call('HGET', state_key, 'capStepMs') or '0') or 0
  if cap == nil or step <= 0 then return nil end
  local at = tonumber(redis.call('HGET', state_key, 'capAt') or '0') or 0
  return cap + math.floor(math.max(0, now - at) / step)
end

-- The session limit in force: the configured one, or lower: learned from a 509's text, or the cap after it.
local function effective_limit(state_key, configured, now)
  local limit = configured
  local l = learned(state_key, 'sessionLimit', now)
  if l ~= nil and l < limit then limit = l end
  local c = session_cap(state_key, now)
  if c ~= nil and c < limit then limit = c end
  return limit
end

-- The learned values for a reply (0: none in force).
local function learned_reply(state_key, now, values)
  values.learnedSessionLimit = learned(state_key, 'sessionLimit', now) or 0
  values.learnedPerMessage = learned(state_key, 'topicsPerMessage', now) or 0
  values.learnedPerSession = learned(state_key, 'topicsPerSession', now) or 0
  return values
end

-- When the earliest lease ends: a hint for how long a slot may take (at least 1 ms).
local function slot_wait(key, now)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] == nil then return 1 end
  return math.max(1, tonumber(first[2]) - now)
end

-- Keeps a key while it may matter, then lets it go.
local function keep(key, ms)
  redis.call('PEXPIRE', key, math.max(1000, math.ceil(ms)))
end
