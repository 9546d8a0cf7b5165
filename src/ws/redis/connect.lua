-- Charges one connect to the subject's window for a session that holds its lease. Denied during a shared
-- pause, while the window is full, or ('lease') when the other leases already fill the limit in force: a
-- lapsed lease is not taken again, a held one is given up (it was taken under a higher limit), and the
-- connection waits for a slot again.
local now = now_ms(ARGV[ARG.time])
local id = ARGV[ARG.sessionId]
local limit = num_arg('sessionLimit', 1)
local lease_ms = num_arg('leaseMs', 1)
local connect_limit = num_arg('connectLimit', 1)
local span_ms = num_arg('connectSpanMs', 1)
if id == nil or id == '' then return redis.error_reply('KS_BAD_ARG:sessionId') end
if limit == nil then return redis.error_reply('KS_BAD_ARG:sessionLimit') end
if lease_ms == nil then return redis.error_reply('KS_BAD_ARG:leaseMs') end
if connect_limit == nil then return redis.error_reply('KS_BAD_ARG:connectLimit') end
if span_ms == nil then return redis.error_reply('KS_BAD_ARG:connectSpanMs') end
local sessions = KEYS[KEY.sessions]
local connects = KEYS[KEY.connects]
local state = KEYS[KEY.state]
purge_sessions(sessions, now)
local held = redis.call('ZSCORE', sessions, id)
local others = redis.call('ZCARD', sessions) - (held and 1 or 0)
if others >= effective_limit(state, limit, now) then
  if held then redis.call('ZREM', sessions, id) end
  return pack(learned_reply(state, now, { granted = 0, now = now, reason = 'lease', waitMs = slot_wait(sessions, now) }))
end
local paused_until = tonumber(redis.call('HGET', state, 'pausedUntil') or '0') or 0
if paused_until > now then
  return pack(learned_reply(state, now, { granted = 0, now = now, reason = 'paused', waitMs = paused_until - now }))
end
-- the connect log: drop what left the span, then count
while true do
  local head = redis.call('LINDEX', connects, 0)
  if not head or tonumber(head) > now - span_ms then break end
  redis.call('LPOP', connects)
end
local n = redis.call('LLEN', connects)
if n >= connect_limit then
  local oldest = tonumber(redis.call('LINDEX', connects, n - connect_limit))
  return pack(learned_reply(state, now, { granted = 0, now = now, reason = 'connects', waitMs = math.max(1, oldest + span_ms - now) }))
end
redis.call('RPUSH', connects, now)
keep(connects, span_ms * 2)
redis.call('ZADD', sessions, now + lease_ms, id)
keep(sessions, lease_ms * 2)
return pack(learned_reply(state, now, { granted = 1, now = now, reason = '', waitMs = 0 }))
