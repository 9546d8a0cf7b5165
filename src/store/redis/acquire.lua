-- Acquires every bucket of up to `count` identical requests, in order, each all or nothing; stops at the
-- first that does not fit. Buckets: one block per charge (weight 0 = a guard: only its pause matters).
-- With a sender (senderId, senderWeight; '' for none) and a tier: a refusal leaves its weight waiting in each
-- bucket that refused it, an admission counts in the sender's share, and a sender above its fair share waits
-- for one below it (senders.lua).
-- Reply (REPLY): admitted 1 with now and count, then per bucket (EACH) the weight counted there now
-- (used + hidden); or admitted 0 with now, waitMs, bucket (1-based index of the longest wait) and reason.
local now = now_ms(ARGV[ARG.time])
local share = tonumber(ARGV[ARG.share])
local count = tonumber(ARGV[ARG.count])
local tier = tonumber(ARGV[ARG.tier])
if tier == nil or tier ~= math.floor(tier) or tier < -1 or tier > 3 then return redis.error_reply('KS_BAD_ARG:tier') end
if share == nil or share <= 0 or share > 1 then return redis.error_reply('KS_BAD_ARG:share') end
if count == nil or count < 1 then return redis.error_reply('KS_BAD_ARG:count') end
local sender_id = ARGV[ARG.senderId]
local sender_weight = tonumber(ARGV[ARG.senderWeight])
if sender_id ~= '' and (sender_weight == nil or not (sender_weight > 0) or not string.match(sender_id, '^[%w_.:-]+$')) then
  return redis.error_reply('KS_BAD_ARG:sender')
end
local with_sender = sender_id ~= '' and tier >= 0
local n, bad = bucket_count()
if n == nil then return redis.error_reply('KS_BAD_ARG:' .. bad) end

local buckets = {}
for i = 1, n do
  local cfg = read_cfg(i)
  if cfg.err then return cfg end
  local hkey, lkey = KEYS[2 * i - 1], KEYS[2 * i]
  if cfg.weight == 0 then
    buckets[i] = { guard = true, cfg = cfg, pausedUntil = tonumber(redis.call('HGET', hkey, 'pausedUntil')) or 0 }
  else
    buckets[i] = load(hkey, lkey, cfg, now)
    load_senders(buckets[i])
    prune_senders(buckets[i], now)
  end
end

local admitted = 0
while admitted < count do
  local worst_wait, worst_index, worst_reason = 0, 0, nil
  local waits = {}
  for i = 1, n do
    local b = buckets[i]
    local wait, reason
    if b.guard then
      -- whole ms, as wait_for and the TypeScript twin round every wait (ties then break alike)
      if b.pausedUntil > now then wait, reason = math.ceil(b.pausedUntil - now), 'paused' end
    else
      local turn_of = nil
      if with_sender then turn_of = sender_id end
      wait, reason = wait_for(b, b.cfg.weight, share, now, tier, turn_of)
    end
    waits[i] = wait or 0
    if reason ~= nil and wait >= worst_wait then
      worst_wait, worst_index, worst_reason = math.max(wait, 1), i, reason
    end
  end
  if worst_reason == nil and with_sender then
    -- every bucket admits: hold back for a sender below its share that is about to ask (fair shares)
    for i = 1, n do
      local b = buckets[i]
      if not b.guard then
        local fair = fair_share_wait(b, sender_id, sender_weight, tier, now)
        waits[i] = fair
        if fair > 0 and fair >= worst_wait then worst_wait, worst_index, worst_reason = fair, i, 'fairShare' end
      end
    end
  end
  if worst_reason ~= nil then
    if admitted == 0 then
      if with_sender then
        -- the refused weight waits in each bucket that refused it, until its lane comes back
        for i = 1, n do
          local b = buckets[i]
          if not b.guard and waits[i] > 0 then
            record_waiting(b, sender_id, sender_weight, tier, b.cfg.weight, count, waits[i], now)
            save_senders(b)
          end
        end
      end
      return pack(REPLY, { admitted = 0, now = now, waitMs = math.ceil(worst_wait), bucket = worst_index, reason = worst_reason })
    end
    break
  end
  for i = 1, n do
    if not buckets[i].guard then charge(buckets[i], buckets[i].cfg.weight, share, now, tier) end
  end
  admitted = admitted + 1
end
if with_sender then
  for i = 1, n do
    local b = buckets[i]
    if not b.guard then
      record_admitted(b, sender_id, sender_weight, tier, b.cfg.weight, admitted, now)
      -- the rest of the batch waits: its lane asks again at once
      if admitted < count then record_waiting(b, sender_id, sender_weight, tier, b.cfg.weight, count - admitted, 0, now) end
      save_senders(b)
    end
  end
end
local reply = pack(REPLY, { admitted = 1, now = now, count = admitted })
for i = 1, n do
  local b = buckets[i]
  if b.dirty then save_charged(b, now) end
  local counted = 0
  if not b.guard then counted = b.used + b.hidden end
  reply[#reply + 1] = pack(EACH, { counted = counted })
end
return reply
