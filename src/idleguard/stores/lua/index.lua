-- Add a session to its subject's index (a sorted set scored by creation
-- time) and drop entries too old to be alive. KEYS[1] index. ARGV: member,
-- created (seconds), oldest creation time still possibly alive ('' = keep
-- all), index lifetime (ms, '' = no expiry).
local index = KEYS[1]
redis.call('ZADD', index, ARGV[2], ARGV[1])
if ARGV[3] ~= '' then
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. ARGV[3])
end
if ARGV[4] == '' then
  redis.call('PERSIST', index)
elseif redis.call('PTTL', index) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', index, ARGV[4])
end
return 1
