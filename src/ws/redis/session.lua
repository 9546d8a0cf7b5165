-- Holds (or renews) the session slot of one session id for leaseMs; denied while every slot is leased.
local now = now_ms(ARGV[ARG.time])
local id = ARGV[ARG.sessionId]
local limit = num_arg('sessionLimit', 1)
local lease_ms = num_arg('leaseMs', 1)
if id == nil or id == '' then return redis.error_reply('KS_BAD_ARG:sessionId') end
if limit == nil then return redis.error_reply('KS_BAD_ARG:sessionLimit') end
if lease_ms == nil then return redis.error_reply('KS_BAD_ARG:leaseMs') end
local sessions = KEYS[KEY.sessions]
local state = KEYS[KEY.state]
purge_sessions(sessions, now)
local held = redis.call('ZSCORE', sessions, id)
if not held and redis.call('ZCARD', sessions) >= effective_limit(state, limit, now) then
  return pack(learned_reply(state, now, { granted = 0, now = now, reason = 'sessions', waitMs = slot_wait(sessions, now) }))
end
redis.call('ZADD', sessions, now + lease_ms, id)
keep(sessions, lease_ms * 2)
return pack(learned_reply(state, now, { granted = 1, now = now, reason = '', waitMs = 0 }))
