-- Record a fresh authentication. KEYS[1] session hash. ARGV: now (integer
-- microseconds, '' = server TIME), the channel the change is announced on ('' =
-- none). Returns 1 if the session is live, else 0.
local key = KEYS[1]
local now_us = ARGV[1]
if now_us == '' then now_us = server_now_us() end
local fields = read_fields(key, 'c', 'a', 'e')
if not fields or not fields[1] or fields[3] then return 0 end
if not seconds(fields[2]) or tonumber(now_us) > tonumber(fields[2]) then
  redis.call('HSET', key, 'a', now_us)
  announce(ARGV[2], key)
end
return 1
