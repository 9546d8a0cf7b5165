-- Extends the leases of a process's sessions (space-separated ids); a lapsed lease is taken again when a
-- slot is free. Reply: now, the ids that could not be kept (space-separated, '' when none), and what the
-- fleet learned from the server.
local now = now_ms(ARGV[ARG.time])
local limit = num_arg('sessionLimit', 1)
local lease_ms = num_arg('leaseMs', 1)
if limit == nil then return redis.error_reply('KS_BAD_ARG:sessionLimit') end
if lease_ms == nil then return redis.error_reply('KS_BAD_ARG:leaseMs') end
local sessions = KEYS[KEY.sessions]
local state = KEYS[KEY.state]
purge_sessions(sessions, now)
local effective = effective_limit(state, limit, now)
local lost = {}
for id in string.gmatch(ARGV[ARG.sessionIds], '%S+') do
  if redis.call('ZSCORE', sessions, id) or redis.call('ZCARD', sessions) < effective then
    redis.call('ZADD', sessions, now + lease_ms, id)
  else
    lost[#lost + 1] = id
  end
end
keep(sessions, lease_ms * 2)
return pack(learned_reply(state, now, { now = now, lost = table.concat(lost, ' ') }))
