-- End every session among KEYS that is past its deadline under the limits it
-- was last written with; the sweeper reports each as an expiry event.
-- ARGV: now (integer microseconds, '' = server TIME), clock tolerance
-- (seconds), tombstone grace (ms), the channel each end is announced on ('' =
-- none). Returns {key, reason, c, l, a, s, t} per session ended here.
local now_us = ARGV[1]
if now_us == '' then now_us = server_now_us() end
local now = tonumber(now_us) / 1e6
local grace_ms = tonumber(ARGV[3])
local ended = {}
for _, key in ipairs(KEYS) do
  local fields = read_fields(key, 'c', 'l', 'a', 's', 't', 'e', 'i', 'b')
  if fields and (fields[1] or fields[2] or fields[3]) and not fields[6] then
    local idle, absolute = tonumber(fields[7] or ''), tonumber(fields[8] or '')
    local verdict, _, _, _, reason =
      decide(fields, now, idle, absolute, 0, false, tonumber(ARGV[2]))
    if verdict == 'expired_idle' or verdict == 'expired_absolute' then
      redis.call('HSET', key, 'e', reason)
      redis.call('PEXPIRE', key, grace_ms)
      announce(ARGV[4], key)
      table.insert(ended, {key, reason, fields[1], fields[2], fields[3], fields[4], fields[5]})
    end
  end
end
return ended
