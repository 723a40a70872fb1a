#!lua name=coreswitch_acd
-- The ACD state store in Redis: one function per store operation, each atomic (Redis runs a
-- function to the end before anything else). See coreswitch/acd/redis_store.py for the layout.
-- KEYS[1] is the key prefix; ARGV as documented per function.

local P = ''

local function k(...)
  return P .. table.concat({...}, ':')
end
local function num(x) return tonumber(x) or 0 end
local function enc(v) return string.format('%021.4f', v + 1e12) end
local function idname(member)
  local i = member:match('^.*()|')
  return member:sub(i + 1)
end

local function qcfg(q)
  local j = redis.call('HGET', k('queues'), q)
  if not j then return nil end
  return cjson.decode(j)
end
local function acfg(a)
  local j = redis.call('HGET', k('agents'), a)
  if not j then return nil end
  return cjson.decode(j)
end
local function ag(a)
  local flat = redis.call('HGETALL', k('ag', a))
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
local function set(a, fields)
  local flat = {}
  for f, v in pairs(fields) do
    flat[#flat + 1] = f
    flat[#flat + 1] = tostring(v)
  end
  redis.call('HSET', k('ag', a), unpack(flat))
end

local function logged_in(st) return st.state ~= 'logged_out' and st.state ~= 'away' end
local function free_now(st, cfg, now)
  return (st.state == 'available' or st.state == 'offered' or st.state == 'on_call')
    and num(st.active) < cfg.max_concurrent and num(st.available_at) <= now
end

local function sortkey(st, cfg, q, qc, skill)
  local parts = {}
  for _, f in ipairs(qc.order) do
    local name, desc = f[1], f[2]
    local v
    if name == 'tier' then v = cfg.queues[q] or 1
    elseif name == 'position' then v = (cfg.positions or {})[q] or 0
    elseif name == 'proficiency' then v = (skill ~= '' and cfg.skills[skill]) or 0
    elseif name == 'random' then  -- see advance_clock
      v = num(redis.call('HGET', k('rclock'), q .. '\t' .. skill)) - math.log(1 - num(st.random))
    else v = num(st[name]) end
    if desc then v = -v end
    parts[#parts + 1] = enc(v)
  end
  return table.concat(parts, '|')
end

local function unindex(a)
  local flat = redis.call('HGETALL', k('agkeys', a))
  for i = 1, #flat, 2 do redis.call('ZREM', k('free', flat[i]), flat[i + 1]) end
  redis.call('DEL', k('agkeys', a))
end

local function reindex(a, now)
  unindex(a)
  local st, cfg = ag(a), acfg(a)
  if not cfg then return end
  if st.state == 'wrap_up' or (logged_in(st) and num(st.available_at) > now) then
    redis.call('ZADD', k('delayed'), num(st.available_at), a)
    return
  end
  redis.call('ZREM', k('delayed'), a)
  if not free_now(st, cfg, now) then return end
  for q, _ in pairs(cfg.queues) do
    local qc = qcfg(q)
    if qc then
      local idx = {''}
      if qc.skills_based then
        for s, _ in pairs(cfg.skills) do idx[#idx + 1] = s end
      end
      for _, s in ipairs(idx) do
        local index = q .. '\t' .. s
        local member = sortkey(st, cfg, q, qc, s) .. '|' .. a
        redis.call('ZADD', k('free', index), 0, member)
        redis.call('HSET', k('agkeys', a), index, member)
      end
    end
  end
end

-- The random figure: an agent becoming free is listed at its index's clock plus an exponential
-- draw, and taking an agent moves the clock to its figure; by memorylessness the first listed
-- agent is then a uniformly random choice among the free ones (a plain uniform number per agent
-- keeps handing calls to whoever was freed last).
local function advance_clock(a, q, qc)
  local place
  for i, f in ipairs(qc.order) do
    if f[1] == 'random' and not f[2] then place = i end
  end
  if not place then return end
  local flat = redis.call('HGETALL', k('agkeys', a))
  for i = 1, #flat, 2 do
    local index, member = flat[i], flat[i + 1]
    if index:sub(1, #q + 1) == q .. '\t' then
      local parts = {}
      for part in member:gmatch('[^|]+') do parts[#parts + 1] = part end
      local v = tonumber(parts[place]) - 1e12
      if v > num(redis.call('HGET', k('rclock'), index)) then
        redis.call('HSET', k('rclock'), index, v)
      end
    end
  end
end

local function release_delayed(now, rand)
  local due = redis.call('ZRANGEBYSCORE', k('delayed'), '-inf', now, 'WITHSCORES')
  for i = 1, #due, 2 do
    local a, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', k('delayed'), a)
    local st = ag(a)
    if st.state == 'wrap_up' then
      -- one draw per call: each agent released with it gets its own number from it
      local u = (math.sin((rand + i) * 12.9898) * 43758.5453) % 1
      set(a, {state = 'available', since = at, idle_since = at, random = u})
    end
    reindex(a, now)
  end
end

local function status(a)
  local st, cfg = ag(a), acfg(a)
  return {id = a, name = cfg.name, state = st.state, reason = st.reason or '',
          since = num(st.since), queues = cfg.queues, calls_answered = num(st.calls_answered),
          talk_time = num(st.talk_time), no_answers = num(st.no_answers),
          available_at = num(st.available_at), active = num(st.active)}
end

local function err(kind, msg) return redis.error_reply('ACD ' .. kind .. ' ' .. msg) end

local function the_agent(a)
  if not acfg(a) then return nil, err('unknown_agent', 'unknown agent ' .. a) end
  return ag(a)
end

local function count_login(a, delta)
  local cfg = acfg(a)
  for q, _ in pairs(cfg.queues) do redis.call('HINCRBY', k('loggedin'), q, delta) end
end

-- callers ------------------------------------------------------------------------------------
local function caller_member(c)
  return string.format('%012d', 1e9 - c.priority) .. '|' .. enc(c.entered) .. '|'
    .. string.format('%015d', c.seq) .. '|' .. c.id
end
local function caller(id)
  local j = redis.call('HGET', k('c', id), 'json')
  if not j then return nil end
  return cjson.decode(j)
end
local function put_caller(c, waiting)
  local member = caller_member(c)
  redis.call('HSET', k('c', c.id), 'json', cjson.encode(c), 'member', member)
  if waiting then redis.call('ZADD', k('wait', c.queue), 0, member) end
  redis.call('SADD', k('nodec', c.node), c.id)
  if c.callback ~= nil and c.callback ~= cjson.null then
    redis.call('SADD', k('cb', c.queue), c.id)
  end
end
local function unwait(c)
  local member = redis.call('HGET', k('c', c.id), 'member')
  if member then redis.call('ZREM', k('wait', c.queue), member) end
end
local function drop_caller(c)
  unwait(c)
  redis.call('DEL', k('c', c.id))
  redis.call('SREM', k('nodec', c.node), c.id)
  redis.call('SREM', k('cb', c.queue), c.id)
end
local function is_offered(id) return redis.call('HEXISTS', k('c', id), 'offer') == 1 end

-- offers -------------------------------------------------------------------------------------
local function free_agent(a, now)
  local st = ag(a)
  local active = math.max(0, num(st.active) - 1)
  local fields = {active = active}
  if active == 0 and (st.state == 'offered' or st.state == 'on_call') then
    if st.away_after and st.away_after ~= '' then
      fields.state, fields.reason, fields.away_after = 'away', st.away_after, ''
    else
      fields.state = 'available'
    end
    fields.since = now
  end
  set(a, fields)
  reindex(a, now)
end

local function fail(rec, a, failure, now)
  local ringing, left, found = rec.ringing, {}, false
  for _, x in ipairs(ringing) do
    if x == a then found = true else left[#left + 1] = x end
  end
  if not found then return 0 end
  local offer = rec.offer
  local qc = qcfg(offer.queue)
  local st = ag(a)
  local delay = 0
  if qc then
    if failure == 'no_answer' or failure == 'unreachable' then delay = qc.no_answer_delay
    elseif failure == 'busy' then delay = qc.busy_delay
    elseif failure == 'rejected' then delay = qc.reject_delay end
  end
  local fields = {available_at = math.max(num(st.available_at), now + delay)}
  if failure == 'no_answer' or failure == 'unreachable' then
    fields.no_answers = num(st.no_answers) + 1
    if qc and fields.no_answers >= qc.max_no_answer then fields.away_after = 'no answer' end
  end
  set(a, fields)
  free_agent(a, now)
  if #left > 0 then
    rec.ringing = left
    redis.call('HSET', k('offers'), offer.id, cjson.encode(rec))
    return 0
  end
  redis.call('HDEL', k('offers'), offer.id)
  local c = caller(offer.caller.id)
  if not c then return 0 end
  redis.call('HDEL', k('c', c.id), 'offer')
  if failure == 'caller_gone' then
    drop_caller(c)
    return 0
  end
  redis.call('ZADD', k('wait', c.queue), 0, redis.call('HGET', k('c', c.id), 'member'))
  return 1
end

-- functions ----------------------------------------------------------------------------------
local function prefix(keys) P = keys[1] end

redis.register_function('acd_configure', function(keys, args)
  prefix(keys)
  local queues, agents, now = cjson.decode(args[1]), cjson.decode(args[2]), num(args[3])
  for _, q in ipairs(queues) do redis.call('HSET', k('queues'), q.name, cjson.encode(q)) end
  for _, a in ipairs(agents) do
    redis.call('HSET', k('agents'), a.id, cjson.encode(a))
    redis.call('HSETNX', k('ag', a.id), 'state', 'logged_out')
  end
  redis.call('DEL', k('loggedin'))
  for _, a in ipairs(redis.call('HKEYS', k('agents'))) do
    if ag(a).state ~= 'logged_out' then count_login(a, 1) end
    reindex(a, now)
  end
  return 1
end)

redis.register_function('acd_enqueue', function(keys, args)
  prefix(keys)
  local c = cjson.decode(args[1])
  local existing = redis.call('HGET', k('c', c.id), 'json')
  if existing then return existing end
  if not qcfg(c.queue) then return err('unknown_queue', 'unknown queue ' .. c.queue) end
  if c.seq == 0 then c.seq = redis.call('INCR', k('seq')) end
  put_caller(c, true)
  return cjson.encode(c)
end)

redis.register_function('acd_leave', function(keys, args)
  prefix(keys)
  local c = caller(args[1])
  if not c or is_offered(c.id) then return false end
  drop_caller(c)
  return cjson.encode(c)
end)

redis.register_function('acd_move', function(keys, args)
  prefix(keys)
  local c = caller(args[1])
  if not c or is_offered(c.id) then return false end
  if not qcfg(args[2]) then return err('unknown_queue', 'unknown queue ' .. args[2]) end
  drop_caller(c)
  c.queue = args[2]
  if args[3] ~= '' then c.priority = tonumber(args[3]) end
  put_caller(c, true)
  return cjson.encode(c)
end)

redis.register_function('acd_book_callback', function(keys, args)
  prefix(keys)
  local c = caller(args[1])
  if not c or is_offered(c.id) then return false end
  redis.call('SREM', k('nodec', c.node), c.id)
  c.callback, c.node = args[2], '*'
  put_caller(c, false)
  return cjson.encode(c)
end)

redis.register_function('acd_position', function(keys, args)
  prefix(keys)
  local c = caller(args[1])
  if not c or is_offered(c.id) then return false end
  local rank = redis.call('ZRANK', k('wait', c.queue), redis.call('HGET', k('c', c.id), 'member'))
  if not rank then return false end
  return rank + 1
end)

redis.register_function('acd_waiting', function(keys, args)
  prefix(keys)
  local out = {}
  for _, m in ipairs(redis.call('ZRANGE', k('wait', args[1]), 0, -1)) do
    local j = redis.call('HGET', k('c', idname(m)), 'json')
    if j then out[#out + 1] = j end
  end
  return out
end)

local function eligible(cfg, c, qc, now)
  local waited = now - c.entered
  if qc.tier_wait > 0 and ((cfg.queues[qc.name] or 1) - 1) * qc.tier_wait > waited then
    return false
  end
  if c.skills and #c.skills > 0 then
    local minimum = 0
    for _, step in ipairs(qc.skill_steps) do
      if waited >= step[1] then minimum = step[2] end
    end
    for _, s in ipairs(c.skills) do
      local level = cfg.skills[s]
      if level == nil or level < minimum then return false end
    end
  end
  return true
end

redis.register_function('acd_dispatch', function(keys, args)
  prefix(keys)
  local q, now, node, rand = args[1], num(args[2]), args[3], num(args[4])
  local qc = qcfg(q)
  if not qc then return err('unknown_queue', 'unknown queue ' .. q) end
  release_delayed(now, rand)
  local limit = 1
  if qc.rings ~= 'one' then limit = qc.max_ring end
  for _, m in ipairs(redis.call('ZRANGE', k('wait', q), 0, 63)) do
    local c = caller(idname(m))
    if c then
      local idx = ''
      if qc.skills_based and c.skills and #c.skills > 0 then idx = c.skills[1] end
      local chosen = {}
      local start, chunk = 0, math.min(limit, 16)
      while start < 256 and #chosen < limit do
        local got = redis.call('ZRANGE', k('free', q .. '\t' .. idx), start, start + chunk - 1)
        for _, am in ipairs(got) do
          local a = idname(am)
          local cfg = acfg(a)
          if cfg and eligible(cfg, c, qc, now) then
            chosen[#chosen + 1] = {a, cfg.endpoint}
            if #chosen >= limit then break end
          end
        end
        if #got < chunk then break end
        start, chunk = start + chunk, math.min(chunk * 2, 64)
      end
      if #chosen > 0 then
        if c.node ~= node and c.node ~= '*' then return false end
        local ring = qc.ring_timeout
        if qc.rings == 'sequence' then ring = ring + qc.progressive_delay * (#chosen - 1) end
        local agents, endpoints = {}, {}
        for i, x in ipairs(chosen) do agents[i], endpoints[i] = x[1], x[2] end
        local offer = {id = 'o' .. redis.call('INCR', k('oid')), caller = c, agents = agents,
                       endpoints = endpoints, queue = q, made = now,
                       deadline = now + ring + 30, node = node, rings = qc.rings,
                       progressive_delay = qc.progressive_delay}
        unwait(c)
        redis.call('HSET', k('c', c.id), 'offer', offer.id)
        redis.call('HSET', k('offers'), offer.id, cjson.encode({offer = offer, ringing = agents}))
        for _, a in ipairs(agents) do
          advance_clock(a, q, qc)
          local st = ag(a)
          local fields = {active = num(st.active) + 1, last_offered = now}
          if st.state == 'available' then fields.state, fields.since = 'offered', now end
          set(a, fields)
          reindex(a, now)
        end
        return cjson.encode(offer)
      end
    end
  end
  return false
end)

redis.register_function('acd_offer_answered', function(keys, args)
  prefix(keys)
  local oid, a, now = args[1], args[2], num(args[3])
  local rec = redis.call('HGET', k('offers'), oid)
  local offer = cjson.decode(args[4])
  local st = ag(a)
  local fields = {no_answers = 0}
  if st.state ~= 'logged_out' then  -- forced out while ringing: stays out
    fields.state, fields.since = 'on_call', now
  end
  local ringing = false
  if rec then
    rec = cjson.decode(rec)
    redis.call('HDEL', k('offers'), oid)
    for _, other in ipairs(rec.ringing) do
      if other ~= a then free_agent(other, now) else ringing = true end
    end
  end
  if not ringing then
    st = ag(a)
    fields.active = num(st.active) + 1  -- the offer was taken back meanwhile: count the call
  end
  local c = caller(offer.caller.id)
  if c then drop_caller(c) end
  set(a, fields)
  redis.call('HSET', k('calls'), oid, cjson.encode({offer = offer, agent = a}))
  reindex(a, now)
  return 1
end)

redis.register_function('acd_offer_failed', function(keys, args)
  prefix(keys)
  local rec = redis.call('HGET', k('offers'), args[1])
  if not rec then return 0 end
  return fail(cjson.decode(rec), args[2], args[3], num(args[4]))
end)

redis.register_function('acd_call_ended', function(keys, args)
  prefix(keys)
  local oid, a, talk, now, q = args[1], args[2], num(args[3]), num(args[4]), args[5]
  local rand = num(args[6])
  local known = redis.call('HDEL', k('calls'), oid) == 1
  local qc = qcfg(q)
  local wrap = 0
  if qc then wrap = qc.wrap_up end
  local st = ag(a)
  local fields = {calls_answered = num(st.calls_answered) + 1,
                  talk_time = num(st.talk_time) + talk}
  if qc then
    local old = tonumber(redis.call('HGET', k('aht'), q)) or 120
    redis.call('HSET', k('aht'), q, 0.8 * old + 0.2 * (talk + wrap))
  end
  -- a call not known any more (its node was declared dead, or reported twice): the figures
  -- count, the agent's state is left alone (it may be on another call by now)
  if known then fields.active = math.max(0, num(st.active) - 1) end
  if known and fields.active == 0 and st.state == 'on_call' then
    if st.away_after and st.away_after ~= '' then
      fields.state, fields.reason, fields.away_after = 'away', st.away_after, ''
    elseif wrap > 0 then
      fields.state, fields.available_at = 'wrap_up', now + wrap
    else
      fields.state, fields.idle_since, fields.random = 'available', now, rand
    end
    fields.since = now
  end
  set(a, fields)
  reindex(a, now)
  return 1
end)

redis.register_function('acd_expire', function(keys, args)
  prefix(keys)
  local now, timeout = num(args[1]), num(args[2])
  local offers, callers, agents = {}, {}, {}
  local dead = {}
  local beats = redis.call('HGETALL', k('beats'))
  for i = 1, #beats, 2 do
    if tonumber(beats[i + 1]) < now - timeout then dead[beats[i]] = true end
  end
  local all = redis.call('HGETALL', k('offers'))
  for i = 1, #all, 2 do
    local rec = cjson.decode(all[i + 1])
    if rec.offer.deadline < now or dead[rec.offer.node] then
      offers[#offers + 1] = rec.offer
      for _, a in ipairs(rec.ringing) do
        local again = redis.call('HGET', k('offers'), rec.offer.id)
        if again then
          fail(cjson.decode(again), a, 'expired', now)
          if dead[rec.offer.node] then agents[#agents + 1] = a end
        end
      end
    end
  end
  for node, _ in pairs(dead) do
    for _, id in ipairs(redis.call('SMEMBERS', k('nodec', node))) do
      local c = caller(id)
      if c and not is_offered(id) and c.node == node then
        drop_caller(c)
        callers[#callers + 1] = c
      end
    end
    redis.call('DEL', k('nodec', node))
    redis.call('HDEL', k('beats'), node)
  end
  local calls = redis.call('HGETALL', k('calls'))
  for i = 1, #calls, 2 do
    local rec = cjson.decode(calls[i + 1])
    if dead[rec.offer.node] then
      redis.call('HDEL', k('calls'), calls[i])
      free_agent(rec.agent, now)
      agents[#agents + 1] = rec.agent
    end
  end
  return cjson.encode({offers = offers, callers = callers, agents = agents})
end)

redis.register_function('acd_login', function(keys, args)
  prefix(keys)
  local a, now, rand = args[1], num(args[2]), num(args[3])
  local st, e = the_agent(a)
  if not st then return e end
  if st.state == 'logged_out' then
    set(a, {state = 'available', reason = '', since = now, idle_since = now, no_answers = 0,
            available_at = 0, calls_answered = 0, talk_time = 0, random = rand, away_after = ''})
    count_login(a, 1)
    reindex(a, now)
  end
  return cjson.encode(status(a))
end)

redis.register_function('acd_logout', function(keys, args)
  prefix(keys)
  local a, now, force = args[1], num(args[2]), args[3] == '1'
  local st, e = the_agent(a)
  if not st then return e end
  if st.state == 'logged_out' then return cjson.encode(status(a)) end
  if num(st.active) > 0 and not force then
    return err('refused', 'agent ' .. a .. ' cannot log out during a call or offer (state '
      .. st.state .. '); try again when it ends')
  end
  local cfg = acfg(a)
  local succ = cfg.successor
  if cfg.handover_required and succ and succ ~= cjson.null and not force then
    if not acfg(succ) or ag(succ).state == 'logged_out' then
      return err('refused', 'agent ' .. a .. ' cannot log out: successor ' .. succ
        .. ' is not logged in (shift handover); use force to override')
    end
  end
  set(a, {state = 'logged_out', reason = '', since = now, away_after = ''})
  count_login(a, -1)
  reindex(a, now)
  return cjson.encode(status(a))
end)

redis.register_function('acd_set_away', function(keys, args)
  prefix(keys)
  local a, reason, now = args[1], args[2], num(args[3])
  local st, e = the_agent(a)
  if not st then return e end
  if st.state == 'logged_out' then return err('refused', 'agent ' .. a .. ' is not logged in') end
  if num(st.active) > 0 then
    set(a, {away_after = reason})
  else
    set(a, {state = 'away', reason = reason, since = now})
    reindex(a, now)
  end
  return cjson.encode(status(a))
end)

redis.register_function('acd_set_available', function(keys, args)
  prefix(keys)
  local a, now, rand = args[1], num(args[2]), num(args[3])
  local st, e = the_agent(a)
  if not st then return e end
  if st.state == 'logged_out' then return err('refused', 'agent ' .. a .. ' is not logged in') end
  set(a, {away_after = ''})
  if st.state == 'away' then
    set(a, {state = 'available', reason = '', since = now, idle_since = now, no_answers = 0,
            available_at = 0, random = rand})
    reindex(a, now)
  end
  return cjson.encode(status(a))
end)

redis.register_function('acd_wrap_up_done', function(keys, args)
  prefix(keys)
  local a, now, rand = args[1], num(args[2]), num(args[3])
  local st, e = the_agent(a)
  if not st then return e end
  if st.state == 'wrap_up' then
    set(a, {state = 'available', since = now, idle_since = now, available_at = now,
            random = rand})
    reindex(a, now)
  end
  return cjson.encode(status(a))
end)

redis.register_function('acd_agents', function(keys, args)
  prefix(keys)
  local ids = {}
  if args[1] ~= '' then
    if not acfg(args[1]) then return err('unknown_agent', 'unknown agent ' .. args[1]) end
    ids = {args[1]}
  else
    ids = redis.call('HKEYS', k('agents'))
    table.sort(ids)
  end
  local out = {}
  for _, a in ipairs(ids) do out[#out + 1] = cjson.encode(status(a)) end
  return out
end)

redis.register_function('acd_queues', function(keys, args)
  prefix(keys)
  local now = num(args[2])
  release_delayed(now, num(args[3]))  -- wrap-ups and delays over by now count as available
  local names = {}
  if args[1] ~= '' then
    if not qcfg(args[1]) then return err('unknown_queue', 'unknown queue ' .. args[1]) end
    names = {args[1]}
  else
    names = redis.call('HKEYS', k('queues'))
    table.sort(names)
  end
  local out = {}
  for _, q in ipairs(names) do
    local oldest = 0
    for _, m in ipairs(redis.call('ZRANGE', k('wait', q), 0, -1)) do
      local c = caller(idname(m))
      if c then oldest = math.max(oldest, now - c.entered) end
    end
    out[#out + 1] = cjson.encode({
      name = q, waiting = redis.call('ZCARD', k('wait', q)),
      callbacks = redis.call('SCARD', k('cb', q)),
      agents_logged_in = num(redis.call('HGET', k('loggedin'), q)),
      agents_available = redis.call('ZCARD', k('free', q .. '\t')),
      oldest_wait = oldest,
      average_handle = tonumber(redis.call('HGET', k('aht'), q)) or 120})
  end
  return out
end)

redis.register_function('acd_heartbeat', function(keys, args)
  prefix(keys)
  redis.call('HSET', k('beats'), args[1], args[2])
  return 1
end)
