-- Applies replies' gw-ratelimit-* headers to a bucket (observe in lib/observe.lua), one row per reply, in order,
-- as that many calls one after the other would. Headers arrive normalized (validate.ts): -1 = missing. Buckets: one.
-- Reply (REPLY): the rows applied, then per row (EACH) what observe reported.
local now = now_ms(ARGV[ARG.time])
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end
local rows = row_count(n)
local observations = {}
for r = 1, rows do
  observations[r] = read_row(n, r)
  if observations[r] == nil then return redis.error_reply('KS_BAD_ARG:observation') end
end
local cfg = read_cfg(1)
if cfg.err then return cfg end
local b = load(KEYS[1], KEYS[2], cfg, now)
local reply = pack(REPLY, { count = rows })
local dirty = false
for r = 1, rows do
  local result, changed = observe(b, observations[r], now)
  dirty = dirty or changed
  reply[#reply + 1] = pack(EACH, result)
end
if dirty then save(b, now) end
return reply
