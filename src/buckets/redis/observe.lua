-- Applies one response's gw-ratelimit-* headers to a bucket (see observe() in bucketMath.ts).
-- KEYS: hash, log. ARGV[1] time override, then the bucket's 6 config values (weight ignored), then
-- sentAt (store time the request was admitted), limit, remaining, resetMs (-1 = unknown), recoverStep.
local now = now_ms(ARGV[1])
local cfg = read_cfg(2)
if cfg.err then return cfg end
local sent_at, limit, remaining, reset = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local recover = tonumber(ARGV[12])
if sent_at == nil or limit == nil or remaining == nil or reset == nil or recover == nil then
  return redis.error_reply('KS_BAD_ARG:observation')
end
if sent_at > now then sent_at = now end -- never sent after it is applied
local b = load(KEYS[1], KEYS[2], cfg, now)
if sent_at < b.obs then return 0 end -- an older response never overwrites newer knowledge
b.obs = sent_at
if limit > 0 then b.llim = limit end
local lim = base_limit(b)
if reset >= 0 and reset <= cfg.window + cfg.span then
  local lo, hi = sent_at + reset, now + reset
  if b.whi > 0 and lo <= b.whi and hi >= b.wlo then
    b.wlo = math.max(b.wlo, lo)
    b.whi = math.min(b.whi, hi)
  elseif b.whi == 0 or lo > b.whi then
    -- a new window: the one before it was clean if no penalty reached into it
    if b.whi > 0 and b.factor < 1 and b.tgu < b.wlo then b.factor = math.min(1, b.factor + recover) end
    b.wlo, b.whi = lo, hi
  end
end
if remaining >= 0 and lim > 0 then
  local until_ms = now + cfg.window
  if b.whi > now then until_ms = b.whi end
  local after, lasting = 0, 0
  if b.len > 0 then
    for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
      local at, w = parse_entry(e)
      if at > sent_at then after = after + w end
      if expiry(b, at) >= until_ms then lasting = lasting + w end
    end
  end
  local server_used = math.max(0, lim - remaining) + after
  b.hid = math.max(0, server_used - lasting)
  if b.hid > 0 then b.hidx = until_ms else b.hidx = 0 end
end
save(b, now)
return 1
