-- What the budgets of one subject hold now: live leases, connects in the span, pause, limit in force, and
-- what the fleet learned from the server.
local now = now_ms(ARGV[ARG.time])
local limit = num_arg('sessionLimit', 1)
local span_ms = num_arg('connectSpanMs', 1)
if limit == nil then return redis.error_reply('KS_BAD_ARG:sessionLimit') end
if span_ms == nil then return redis.error_reply('KS_BAD_ARG:connectSpanMs') end
local state = KEYS[KEY.state]
local sessions = redis.call('ZCOUNT', KEYS[KEY.sessions], '(' .. now, '+inf')
local connects = 0
for _, t in ipairs(redis.call('LRANGE', KEYS[KEY.connects], 0, -1)) do
  if tonumber(t) > now - span_ms then connects = connects + 1 end
end
return pack(learned_reply(state, now, {
  now = now,
  sessions = sessions,
  connects = connects,
  pausedUntil = tonumber(redis.call('HGET', state, 'pausedUntil') or '0') or 0,
  sessionLimit = effective_limit(state, limit, now),
  backoffLevel = tonumber(redis.call('HGET', state, 'backoffLevel') or '0') or 0,
}))
