-- Registers one process as alive in a quota group and counts the live ones.
-- KEYS[1] the group's heartbeat sorted set. ARGV[1] time override, ARGV[2] process id, ARGV[3] ttl ms.
-- Returns the number of live processes (this one included).
local now = now_ms(ARGV[1])
local ttl = tonumber(ARGV[3])
if ttl == nil or ttl <= 0 then return redis.error_reply('KS_BAD_ARG:ttl') end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
