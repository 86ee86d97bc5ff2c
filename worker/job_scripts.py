"""The Lua scripts that change job records: each transition is one atomic script.

Every script refuses to touch a final record (succeeded, failed, cancelled), so a final
status never changes. Every job that is not final is in the ``active`` sorted set, scored
by when somebody must look at it next: a running job at the end of its lease (renewed
by its worker while it runs), a queued job when its message should have been picked up
(then it is sent again: a message lost with a Redis restart or a dead worker's prefetch
must not strand it). Reaching a final status leaves the set and publishes the job id.
"""

from __future__ import annotations

_FINAL = "local final = {succeeded=1, failed=1, cancelled=1}\n"

# KEYS: index, active, the tenant's job list, the circuit's pins
# ARGV: new id, ttl, prefix-of-job-keys, now (unix), recheck at, prefix-of-circuit-manifests,
#       prefix-of-circuit-readers, field/value pairs...
# -> {id, created, record...}. An existing job is reused unless it was cancelled, failed
# retryably, or succeeded with a result circuit its tenant can no longer read (deleted by
# the tenant, or expired): asked again, it is computed again. A new job is listed for its
# tenant, and pins its circuit while it is queued.
SUBMIT = (
    _FINAL
    + """
local function result_gone(rec)
  local ok, doc = pcall(cjson.decode, redis.call('HGET', rec, 'result') or 'null')
  if not ok or type(doc) ~= 'table' or type(doc['circuit_id']) ~= 'string' then
    return false
  end
  local cid = doc['circuit_id']
  return redis.call('EXISTS', ARGV[6] .. cid) == 0
    or redis.call('SISMEMBER', ARGV[7] .. cid, redis.call('HGET', rec, 'tenant')) == 0
end
local cur = redis.call('GET', KEYS[1])
local gen = 0
if cur then
  local rec = ARGV[3] .. cur
  local st = redis.call('HGET', rec, 'status')
  if st and st ~= 'cancelled' and redis.call('HGET', rec, 'retryable') ~= '1'
      and not (st == 'succeeded' and result_gone(rec)) then
    return {cur, 0, redis.call('HGETALL', rec)}
  end
  if st then gen = tonumber(redis.call('HGET', rec, 'generation') or '0') + 1 end
end
local id = ARGV[1]
if gen > 0 then id = id .. '-' .. gen end
local rec = ARGV[3] .. id
redis.call('DEL', rec)
redis.call('HSET', rec, 'id', id, 'generation', gen, unpack(ARGV, 8))
redis.call('EXPIRE', rec, tonumber(ARGV[2]))
redis.call('SET', KEYS[1], id, 'EX', tonumber(ARGV[2]))
redis.call('ZADD', KEYS[3], ARGV[4], id)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[4]) - tonumber(ARGV[2])))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
local st = redis.call('HGET', rec, 'status')
if st == 'queued' then
  redis.call('SADD', KEYS[4], id)
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[2]))
end
if not final[st] then  -- a job reusing a result is looked at when it is due
  redis.call('ZADD', KEYS[2], tonumber(redis.call('HGET', rec, 'due_at') or ARGV[5]), id)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))  -- idle for the retention: all expired
end
return {id, 1, redis.call('HGETALL', rec)}
"""
)

# KEYS: record, done channel, active
# ARGV: now (ISO), worker, max deliveries, problem if exhausted, pid, lease seconds,
#       take over, now (unix seconds)
# -> {outcome, record if claimed}; 'busy' (with the holder) while another delivery holds a
# live lease: a duplicate message, dropped (``take over`` = 1 ignores a lease whose holder
# is known to be dead).
CLAIM = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if final[st] then return {'final'} end
local now = tonumber(ARGV[8])
if st == 'running' and ARGV[7] ~= '1' then
  local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
  if lease > now then
    return {'busy', redis.call('HMGET', KEYS[1], 'worker', 'worker_pid')}
  end
end
local id = redis.call('HGET', KEYS[1], 'id')
local n = redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
if n > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at', ARGV[1], 'error', ARGV[4])
  redis.call('ZREM', KEYS[3], id)
  redis.call('PUBLISH', KEYS[2], id)
  return {'exhausted'}
end
local lease = now + tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1], 'worker', ARGV[2],
           'worker_pid', ARGV[5], 'lease_until', lease)
redis.call('ZADD', KEYS[3], lease, id)
return {'claimed', redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: record, active  ARGV: now, lease seconds -> 1 renewed, 0 not running
RENEW = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local lease = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease_until', lease)
redis.call('ZADD', KEYS[2], lease, redis.call('HGET', KEYS[1], 'id'))
return 1
"""

# KEYS: record, active, chunks done  ARGV: job id, now, first recheck, longest recheck
# -> {'gone'} (final or expired: out of the set), {'alive'} (lease renewed meanwhile, or
# a reused result not due yet), {'settle'} (a reused result due: the caller commits it),
# or {'send', kind, chunks, done chunk indices...}: the caller sends the job's messages
# again. The recheck delay doubles with each send, up to the longest.
REAP = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'gone'}
end
local now = tonumber(ARGV[2])
local next_look = redis.call('ZSCORE', KEYS[2], ARGV[1])
if next_look and tonumber(next_look) > now then  -- looked at meanwhile (a renewal, a reaper)
  return {'alive'}
end
local due = redis.call('HGET', KEYS[1], 'due_at')
if due then  -- a job reusing a result (service/reuse.py): no worker runs it, it settles
  if tonumber(due) > now then
    redis.call('ZADD', KEYS[2], tonumber(due), ARGV[1])
    return {'alive'}
  end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  return {'settle'}
end
if st == 'running' then
  local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
  if lease > now then
    redis.call('ZADD', KEYS[2], lease, ARGV[1])
    return {'alive'}
  end
  redis.call('HSET', KEYS[1], 'status', 'queued')
end
local sends = redis.call('HINCRBY', KEYS[1], 'resends', 1)
local delay = math.min(tonumber(ARGV[3]) * 2 ^ (sends - 1), tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], now + delay, ARGV[1])
local kind = redis.call('HGET', KEYS[1], 'kind')
local chunks = redis.call('HGET', KEYS[1], 'chunks') or '0'
local out = {'send', kind, chunks}
for _, i in ipairs(redis.call('SMEMBERS', KEYS[3])) do table.insert(out, i) end
return out
"""
)

# KEYS: record, done channel, active  ARGV: new status, now, field/value pairs...
# -> {changed, previous status}
FINISH = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, ''} end
if final[st] then return {0, st} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2], unpack(ARGV, 3))
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', KEYS[3], id)
redis.call('PUBLISH', KEYS[2], id)
return {1, st}
"""
)

# KEYS: record, done channel, result circuit's readers, result cache, tenant's circuits,
#       active, result circuit's manifest
# ARGV: now, result, tenant, ttl, now (unix), result circuit id
# -> 1 succeeded, 0 final already, -1 the result circuit is not stored (deleted since: its
# last reader let it go); nothing written but on 1
SUCCEED = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
if redis.call('EXISTS', KEYS[7]) == 0 then return -1 end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
redis.call('SET', KEYS[4], ARGV[2], 'EX', tonumber(ARGV[4]))
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'status', 'succeeded', 'progress', '1', 'updated_at', ARGV[1],
           'result', ARGV[2])
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', KEYS[6], id)
redis.call('PUBLISH', KEYS[2], id)
return 1
"""
)

# KEYS: record  ARGV: progress, now   (never on a final record)
PROGRESS = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
if st == 'queued' then redis.call('HSET', KEYS[1], 'status', 'running') end
redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'updated_at', ARGV[2])
return 1
"""
)

# KEYS: record, tries, active  ARGV: chunk index, now, ttl, lease seconds, worker, pid
# -> deliveries of this chunk so far, or -1 when the job is final (or gone)
BEGIN_CHUNK = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return -1 end
local tries = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
local lease = tonumber(ARGV[2]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'running', 'lease_until', lease, 'worker', ARGV[5],
           'worker_pid', ARGV[6])
redis.call('ZADD', KEYS[3], lease, redis.call('HGET', KEYS[1], 'id'))
return tries
"""
)

# KEYS: record, done-set, done channel, active  ARGV: chunk index, chunks, now, ttl, result
# -> 0 final already, 1 more to come, 2 done (the job succeeded)
CHUNK_DONE = (
    _FINAL
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
local n = redis.call('SCARD', KEYS[2])
local total = tonumber(ARGV[2])
if n >= total then
  redis.call('HSET', KEYS[1], 'status', 'succeeded', 'progress', '1', 'updated_at', ARGV[3],
             'result', ARGV[5])
  local id = redis.call('HGET', KEYS[1], 'id')
  redis.call('ZREM', KEYS[4], id)
  redis.call('PUBLISH', KEYS[3], id)
  return 2
end
redis.call('HSET', KEYS[1], 'status', 'running', 'progress', tostring(n / total),
           'updated_at', ARGV[3])
return 1
"""
)
