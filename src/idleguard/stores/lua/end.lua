-- End a session, leaving a tombstone. KEYS[1] session hash. ARGV: reason,
-- now (integer microseconds, '' = server TIME), tombstone grace (ms), the
-- channel the end is announced on ('' = none).
-- Returns {c, l, a, s, t} if the session was live, else nil: of several
-- concurrent ends exactly one gets the record (and reports the event).
local key = KEYS[1]
local now_us = ARGV[2]
if now_us == '' then now_us = server_now_us() end
local fields = read_fields(key, 'c', 'l', 'a', 's', 't', 'e')
if fields == nil then
  -- Not a hash: junk under this session's name. The tombstone replaces it.
  redis.call('DEL', key)
  fields = {false, false, false, false, false, false}
end
local live = (fields[1] or fields[2] or fields[3]) and not fields[6]
if not (fields[1] or fields[2] or fields[3] or fields[6]) then
  redis.call('HSET', key, 'c', now_us, 'l', now_us, 'a', now_us, 'e', ARGV[1])
elseif live then
  redis.call('HSET', key, 'e', ARGV[1])
end
redis.call('PEXPIRE', key, ARGV[3])
if live then
  announce(ARGV[4], key)
  return {fields[1], fields[2], fields[3], fields[4], fields[5]}
end
return false
