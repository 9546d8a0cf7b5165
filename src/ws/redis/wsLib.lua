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

-- The configured session limit, or a lower one learned from a 509 while it is in force.
local function effective_limit(state_key, configured, now)
  local learned = tonumber(redis.call('HGET', state_key, 'learnedLimit') or '0') or 0
  local learned_until = tonumber(redis.call('HGET', state_key, 'learnedUntil') or '0') or 0
  if learned_until > now and learned > 0 and learned < configured then return learned end
  return configured
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
