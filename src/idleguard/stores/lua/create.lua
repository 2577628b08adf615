-- Store a new session. KEYS[1] session hash. ARGV: now ('' = server TIME,
-- which then also stands for created, last activity and authenticated),
-- created, last activity, authenticated (integer microseconds), subject,
-- tenant ('=' + value, '' for none), idle_timeout, absolute_timeout ('' =
-- off), tombstone grace (ms).
local key = KEYS[1]
local now_us = ARGV[1]
local created, last, authenticated = ARGV[2], ARGV[3], ARGV[4]
if now_us == '' then
  now_us = server_now_us()
  created, last, authenticated = now_us, now_us, now_us
end
redis.call('DEL', key)
redis.call('HSET', key, 'c', created, 'l', last, 'a', authenticated, 'i', ARGV[7], 'b', ARGV[8])
if ARGV[5] ~= '' then redis.call('HSET', key, 's', string.sub(ARGV[5], 2)) end
if ARGV[6] ~= '' then redis.call('HSET', key, 't', string.sub(ARGV[6], 2)) end
local ttl = lifetime_ms(seconds(created), seconds(last), tonumber(now_us) / 1e6,
  tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
if ttl then redis.call('PEXPIRE', key, ttl) end
return now_us
