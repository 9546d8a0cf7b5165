-- A limit the server stated in a 509's text (topicsPerMessage or topicsPerSession), kept for every process
-- for learnForMs: the lower of it and what is in force. Mirrors learn in WsMemoryStore.
local now = now_ms(ARGV[ARG.time])
local what = ARGV[ARG.what]
local value = num_arg('value', 1)
local learn_for = num_arg('learnForMs', 0)
if what ~= 'topicsPerMessage' and what ~= 'topicsPerSession' then return redis.error_reply('KS_BAD_ARG:what') end
if value == nil then return redis.error_reply('KS_BAD_ARG:value') end
if learn_for == nil then return redis.error_reply('KS_BAD_ARG:learnForMs') end
local state = KEYS[KEY.state]
local current = learned(state, what, now)
if current ~= nil and current < value then value = current end
redis.call('HSET', state, 'learned:' .. what, value, 'learned:' .. what .. ':until', now + learn_for)
keep(state, math.max(redis.call('PTTL', state), learn_for) + 1000)
return pack(learned_reply(state, now, { now = now }))
