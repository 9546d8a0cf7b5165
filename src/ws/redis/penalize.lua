-- A reaction every process shares. kind 'sessions' (509 session count): the refused session's lease goes;
-- the limit the text stated (learnedLimit, '' when none) holds for learnForMs; and the fleet may hold no more
-- sessions than it holds now, one more for every pauseMs (capValue, capAt, capStepMs): a slot freed under
-- that cap is taken at once, a hidden session elsewhere costs one 509 per pauseMs. kind 'busy': one step of
-- the shared backoff; a report while a pause is in force joins it (one step per round, not per report).
-- Mirrors WsMemoryStore.penalize.
local now = now_ms(ARGV[ARG.time])
local kind = ARGV[ARG.kind]
local state = KEYS[KEY.state]
local sessions = KEYS[KEY.sessions]
local paused_until = tonumber(redis.call('HGET', state, 'pausedUntil') or '0') or 0
local keep_ms = 0
if kind == 'sessions' then
  local id = ARGV[ARG.sessionId]
  local limit = num_arg('sessionLimit', 1)
  local pause_ms = num_arg('pauseMs', 0)
  local learn_for = num_arg('learnForMs', 0)
  if id == nil or id == '' then return redis.error_reply('KS_BAD_ARG:sessionId') end
  if limit == nil then return redis.error_reply('KS_BAD_ARG:sessionLimit') end
  if pause_ms == nil then return redis.error_reply('KS_BAD_ARG:pauseMs') end
  if learn_for == nil then return redis.error_reply('KS_BAD_ARG:learnForMs') end
  local stated = tonumber(ARGV[ARG.learnedLimit])
  if stated ~= nil and stated >= 1 then
    local current = learned(state, 'sessionLimit', now)
    if current ~= nil and current < stated then stated = current end
    redis.call('HSET', state, 'learned:sessionLimit', stated, 'learned:sessionLimit:until', now + learn_for)
    keep_ms = learn_for
  end
  redis.call('ZREM', sessions, id)
  purge_sessions(sessions, now)
  if pause_ms > 0 then
    local cap = redis.call('ZCARD', sessions)
    local in_force = session_cap(state, now)
    if in_force ~= nil and in_force < cap then cap = in_force end
    redis.call('HSET', state, 'capValue', cap, 'capAt', now, 'capStepMs', pause_ms)
    keep_ms = math.max(keep_ms, math.max(0, limit - cap) * pause_ms)
  end
elseif kind == 'busy' then
  local base = num_arg('baseMs', 1)
  local max = num_arg('maxMs', 1)
  local jitter = num_arg('jitter', 0)
  local reset_after = num_arg('resetAfterMs', 0)
  local random = num_arg('random', 0)
  if base == nil or max == nil or jitter == nil or reset_after == nil or random == nil then return redis.error_reply('KS_BAD_ARG:backoff') end
  if paused_until <= now then
    local level = tonumber(redis.call('HGET', state, 'backoffLevel') or '0') or 0
    local at = tonumber(redis.call('HGET', state, 'backoffAt') or '0') or 0
    if now - at > reset_after then level = 1 else level = level + 1 end
    local full = math.min(max, base * 2 ^ (level - 1))
    local pause = math.max(1, math.floor(full * (1 - jitter * random) + 0.5))
    paused_until = now + pause
    redis.call('HSET', state, 'backoffLevel', level, 'backoffAt', now)
    keep_ms = math.max(keep_ms, reset_after)
  end
else
  return redis.error_reply('KS_BAD_ARG:kind')
end
redis.call('HSET', state, 'pausedUntil', paused_until)
local ttl = redis.call('PTTL', state)
keep(state, math.max(ttl, keep_ms, paused_until - now) + 1000)
return pack({ pausedUntil = paused_until, now = now })
