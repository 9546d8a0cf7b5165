-- Applies one response's gw-ratelimit-* headers to a bucket (observe in lib/observe.lua). Headers arrive normalized
-- (validate.ts): -1 = missing. Buckets: one.
local now = now_ms(ARGV[ARG.time])
local o = {
  sentAt = tonumber(ARGV[ARG.sentAt]),
  limit = tonumber(ARGV[ARG.limit]),
  remaining = tonumber(ARGV[ARG.remaining]),
  resetMs = tonumber(ARGV[ARG.resetMs]),
  recoverStep = tonumber(ARGV[ARG.recoverStep]),
  minLimit = tonumber(ARGV[ARG.minLimit]),
  maxLimit = tonumber(ARGV[ARG.maxLimit]),
  weight = tonumber(ARGV[ARG.requestWeight]),
}
for _, field in ipairs({ 'sentAt', 'limit', 'remaining', 'resetMs', 'recoverStep', 'minLimit', 'maxLimit', 'weight' }) do
  if o[field] == nil then return redis.error_reply('KS_BAD_ARG:observation') end
end
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
local result, changed = observe(b, o, now)
if changed then save(b, now) end
return pack(REPLY, result)
