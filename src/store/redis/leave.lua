-- Removes one process from a quota group's heartbeat set: it closed, so it admits nothing more and the others need
-- not hold back its share. KEYS[1] the group's heartbeat sorted set (keys.ts). Reply: live, the processes left.
local now = now_ms(ARGV[ARG.time])
local process_id = ARGV[ARG.processId]
if bucket_count() == nil or #KEYS ~= 1 then return redis.error_reply('KS_BAD_ARG:keys') end
redis.call('ZREM', KEYS[1], process_id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return pack(REPLY, { live = redis.call('ZCARD', KEYS[1]) })
