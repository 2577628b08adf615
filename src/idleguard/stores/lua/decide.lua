-- The decision of idleguard.core.decide, line for line, for the scripts that
-- end in it. Times are stored as integer microseconds and compared as seconds
-- (micros / 1e6), exactly as the Python side reads them back, so both sides
-- compute with the same doubles. Keep this in step with core.py: the
-- conformance suite checks the two against each other.

local REASONS = {idle = true, absolute = true, signed_out = true, revoked = true, idp_logout = true,
  invalid = true}

local function seconds(raw)
  if raw and string.match(raw, '^%-?%d+$') then
    return tonumber(raw) / 1e6
  end
  return nil
end

-- fields: HMGET of c, l, a, s, t, e. Returns verdict, touch, idle_remaining,
-- absolute_remaining, reason (nil where the Python side has None).
local function decide(fields, now, idle, absolute, touch_interval, activity, tolerance)
  local created, last, authenticated = seconds(fields[1]), seconds(fields[2]), seconds(fields[3])
  if created == nil or last == nil or authenticated == nil then
    return 'ended', false, nil, nil, 'invalid'
  end
  local ended = fields[6]
  if ended then
    if REASONS[ended] then
      return 'ended', false, nil, nil, ended
    end
    return 'ended', false, nil, nil, 'invalid'
  end
  local horizon = now + tolerance
  if created > horizon or last > horizon or authenticated > horizon or last < created then
    return 'ended', false, nil, nil, 'invalid'
  end
  local absolute_remaining = nil
  if absolute then
    absolute_remaining = math.min(created + absolute - now, absolute)
  end
  local idle_remaining = nil
  if idle then
    idle_remaining = math.min(last + idle - now, idle)
  end
  local idle_over = idle_remaining ~= nil and idle_remaining <= 0
  local absolute_over = absolute_remaining ~= nil and absolute_remaining <= 0
  if idle_over or absolute_over then
    if absolute_over and ((not idle_over) or absolute_remaining <= idle_remaining) then
      return 'expired_absolute', false, nil, nil, 'absolute'
    end
    return 'expired_idle', false, nil, nil, 'idle'
  end
  local touch = activity and now - last >= touch_interval
  if touch and idle then
    idle_remaining = idle
  end
  if idle_remaining ~= nil and absolute_remaining ~= nil then
    idle_remaining = math.min(idle_remaining, absolute_remaining)
  end
  return 'allow', touch, idle_remaining, absolute_remaining, nil
end

-- Milliseconds the key must live: until the first deadline, plus the grace in
-- which a late request (or the sweeper) still finds the record and reports
-- the expiry. nil when no limit is set: the key then lives until ended.
local function lifetime_ms(created, last, now, idle, absolute, grace_ms)
  local deadline = nil
  if idle then deadline = last + idle end
  if absolute and (deadline == nil or created + absolute < deadline) then
    deadline = created + absolute
  end
  if deadline == nil then return nil end
  return math.max(math.ceil((deadline - now) * 1000), 0) + grace_ms
end

local function number_or_false(value)
  if value == nil then return false end
  return string.format('%.17g', value)
end

local function server_now_us()
  local time = redis.call('TIME')
  return time[1] .. string.format('%06d', tonumber(time[2]))
end

-- Whether text is valid UTF-8 as Python's strict decoder reads it (no
-- overlong forms, no surrogates).
local function is_utf8(text)
  if not string.find(text, '[\128-\255]') then return true end
  local i, n = 1, #text
  while i <= n do
    local c = string.byte(text, i)
    local extra, low, high = 0, 0x80, 0xBF
    if c < 0x80 then extra = 0
    elseif c >= 0xC2 and c <= 0xDF then extra = 1
    elseif c >= 0xE0 and c <= 0xEF then
      extra = 2
      if c == 0xE0 then low = 0xA0 elseif c == 0xED then high = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      extra = 3
      if c == 0xF0 then low = 0x90 elseif c == 0xF4 then high = 0x8F end
    else return false end
    for j = i + 1, i + extra do
      local d = string.byte(text, j)
      if not d or d < low or d > high then return false end
      low, high = 0x80, 0xBF
    end
    i = i + extra + 1
  end
  return true
end

-- HMGET of a session key's fields, read safely: nil when the key is not a hash,
-- and, when a field is not UTF-8, fields that decide() reads as invalid. Either
-- was written by something other than idleguard (planted, corrupted); it must
-- read as an invalid session, never as an error that fails every request for
-- it, and never reach the client as bytes its reply cannot be decoded from.
local function read_fields(key, ...)
  local fields = redis.pcall('HMGET', key, ...)
  if fields.err then return nil end
  for i = 1, #fields do
    if fields[i] and not is_utf8(fields[i]) then
      local invalid = {'x', 'x', 'x'}
      for j = 4, #fields do invalid[j] = false end
      return invalid
    end
  end
  return fields
end

-- Tell every process that decides sessions on its own copy (local decisions)
-- that this session changed meaning: it ended, or its sign-in is fresher. A
-- touch never calls this, so active sessions cause no traffic. The message is
-- published from inside the script, so no end can happen without it.
local function announce(channel, key)
  if channel ~= '' then redis.call('PUBLISH', channel, key) end
end
