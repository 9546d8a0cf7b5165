-- Registers one process as alive in a quota group and counts the live ones.
-- KEYS[1] the group's heartbeat sorted set (keys.ts). Reply: live, the number of live processes (this one included).
local now = now_ms(ARGV[ARG.time])
local process_id = ARGV[ARG.processId]
local ttl_ms = tonumber(ARGV[ARG.ttlMs])
if ttl_ms == nil or ttl_ms <= 0 then return redis.error_reply('KS_BAD_ARG:ttlMs') end
if bucket_count() == nil or #KEYS ~= 1 then return redis.error_reply('KS_BAD_ARG:keys') end
redis.call('ZADD', KEYS[1], now + ttl_ms, process_id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl_ms * 2)
return pack(REPLY, { live = redis.call('ZCARD', KEYS[1]) })
