-- Frees one session slot: at once (holdMs 0), or when holdMs has passed (the server may still count a
-- session it did not see close).
local now = now_ms(ARGV[ARG.time])
local id = ARGV[ARG.sessionId]
local hold_ms = num_arg('holdMs', 0)
if id == nil or id == '' then return redis.error_reply('KS_BAD_ARG:sessionId') end
if hold_ms == nil then return redis.error_reply('KS_BAD_ARG:holdMs') end
local sessions = KEYS[KEY.sessions]
if hold_ms > 0 then
  redis.call('ZADD', sessions, 'XX', now + hold_ms, id)
else
  redis.call('ZREM', sessions, id)
end
return pack({ now = now })
