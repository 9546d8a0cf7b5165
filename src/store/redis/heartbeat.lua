-- Registers one process as alive in a quota group for ttlMs (its lease, and one heartbeat after it), counts the
-- live ones, and names those whose last heartbeat is older than leaseMs: they may be cut off from Redis and admitting
-- under their local share, so the caller holds back their shares (hold.lua). A member stays in the set until
-- its ttl has passed, so every other process sees it overdue at least once before it drops out of the count.
-- KEYS[1] the group's heartbeat sorted set (keys.ts), score = the member's expiry.
-- Reply: live (this one included), then per overdue process (EACH) its id and when its ttl ends.
local now = now_ms(ARGV[ARG.time])
local process_id = ARGV[ARG.processId]
local ttl_ms = tonumber(ARGV[ARG.ttlMs])
local lease_ms = tonumber(ARGV[ARG.leaseMs])
if ttl_ms == nil or ttl_ms <= 0 then return redis.error_reply('KS_BAD_ARG:ttlMs') end
if lease_ms == nil or lease_ms <= 0 or lease_ms > ttl_ms then return redis.error_reply('KS_BAD_ARG:leaseMs') end
if bucket_count() == nil or #KEYS ~= 1 then return redis.error_reply('KS_BAD_ARG:keys') end
local set = KEYS[1]
redis.call('ZADD', set, now + ttl_ms, process_id)
redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
redis.call('PEXPIRE', set, ttl_ms * 2)
local reply = pack(REPLY, { live = redis.call('ZCARD', set) })
-- last beat (score - ttl) before now - lease, expiry still ahead (the caller's ttl: every process beats alike)
local overdue = redis.call('ZRANGEBYSCORE', set, '(' .. fmt(now), '(' .. fmt(now + ttl_ms - lease_ms), 'WITHSCORES')
for i = 1, #overdue, 2 do
  reply[#reply + 1] = pack(EACH, { processId = overdue[i], expiresAt = overdue[i + 1] })
end
return reply
