-- One request's check, atomically: read, decide, then touch or end.
-- KEYS[1] session hash. ARGV: now (integer microseconds, '' = server TIME),
-- idle_timeout, absolute_timeout ('' = off), touch_interval (seconds),
-- activity ('1'/'0'), clock tolerance (seconds), tombstone grace (ms), the
-- channel an expiry is announced on ('' = none).
-- Returns, as one JSON array (one bulk string is far cheaper for a client to
-- parse than a nested reply): [verdict, touch, idle_remaining,
-- absolute_remaining, reason, now, c, l, a, s, t, e], false where the Python
-- side has None.
local key = KEYS[1]
local now_us = ARGV[1]
if now_us == '' then now_us = server_now_us() end
local idle, absolute = tonumber(ARGV[2]), tonumber(ARGV[3])
local grace_ms = tonumber(ARGV[7])
local fields = read_fields(key, 'c', 'l', 'a', 's', 't', 'e')
if fields == nil then fields = {'x', 'x', 'x', false, false, false} end
if not (fields[1] or fields[2] or fields[3] or fields[6]) then
  return '["no_session"]'
end
local now = tonumber(now_us) / 1e6
local verdict, touch, idle_remaining, absolute_remaining, reason =
  decide(fields, now, idle, absolute, tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[6]))
if touch then
  if tonumber(now_us) > tonumber(fields[2]) then
    redis.call('HSET', key, 'l', now_us, 'i', ARGV[2], 'b', ARGV[3])
    local ttl = lifetime_ms(seconds(fields[1]), now, now, idle, absolute, grace_ms)
    if ttl then redis.call('PEXPIRE', key, ttl) end
  end
elseif verdict == 'expired_idle' or verdict == 'expired_absolute' then
  redis.call('HSET', key, 'e', reason)
  redis.call('PEXPIRE', key, grace_ms)
  announce(ARGV[8], key)
end
return cjson.encode({verdict, touch and 1 or 0, number_or_false(idle_remaining),
  number_or_false(absolute_remaining), reason or false, now_us,
  fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]})
