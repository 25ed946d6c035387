/**
 * The Redis fallback queue's Lua scripts. Each one is atomic, touches only
 * keys of one project (one hash tag, so one Cluster slot) and starts by
 * checking the epoch key: a missing or different epoch means Redis lost its
 * data since we last looked, and the script returns `{'LOSS'}` untouched so
 * the client can report it before carrying on.
 *
 * Entry ids carry what the scripts need to count without reading the data:
 * `{createdAt}-{items}-{bytes}-{unique}`.
 *
 * Replies start with a status, then the owner's depth:
 * `{'OK', pendingLen, inflightLen, items, bytes, ...}`.
 */

const COMMON = `
local function parse(id)
  local ts, n, b = string.match(id, '^(%d+)%-(%d+)%-(%d+)%-')
  return tonumber(ts) or 0, tonumber(n) or 0, tonumber(b) or 0
end
local function depth(pend, infl, meta)
  local m = redis.call('HMGET', meta, 'items', 'bytes')
  return redis.call('LLEN', pend), redis.call('LLEN', infl), tonumber(m[1]) or 0, tonumber(m[2]) or 0
end
-- Redis refuses memory-growing commands at maxmemory only while a script has
-- not written yet. Scripts that just move ids or delete (take, ack, release,
-- heartbeat, claim) start with this no-op write so they keep working when
-- Redis is full; enqueue does not, so it gets the OOM error and can trim.
local function allowAtMaxmemory(key)
  redis.call('HDEL', key, '')
end
local function uncount(meta, n, b)
  redis.call('HINCRBY', meta, 'items', -n)
  redis.call('HINCRBY', meta, 'bytes', -b)
end
`;

/**
 * KEYS: epoch, data, pending, inflight, meta
 * ARGV: epoch, maxEntries, maxBytes, freeFirstBytes, then (id, json) pairs appended in order.
 * Drops the oldest waiting entries first by `freeFirstBytes` (the OOM retry:
 * deletes still work at maxmemory, and a script that has already written is
 * not refused), then adds, then trims to the bounds.
 * Reply: OK, depth x4, droppedItems, droppedBatches, added
 */
export const ENQUEUE = `${COMMON}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'LOSS'} end
local maxEntries, maxBytes, free = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local droppedItems, droppedBatches, added = 0, 0, 0
local function dropOldest()
  local id = redis.call('LPOP', KEYS[3])
  if not id then return nil end
  local _, n, b = parse(id)
  redis.call('HDEL', KEYS[2], id)
  uncount(KEYS[5], n, b)
  droppedItems = droppedItems + n
  droppedBatches = droppedBatches + 1
  return b
end
while free > 0 do
  local b = dropOldest()
  if not b then break end
  free = free - math.max(b, 1)
end
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HSETNX', KEYS[2], id, ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[3], id)
    local _, n, b = parse(id)
    redis.call('HINCRBY', KEYS[5], 'items', n)
    redis.call('HINCRBY', KEYS[5], 'bytes', b)
    added = added + 1
  end
end
while true do
  local p, f, _, bytes = depth(KEYS[3], KEYS[4], KEYS[5])
  if p == 0 or (p + f <= maxEntries and bytes <= maxBytes) then break end
  dropOldest()
end
local p, f, n, b = depth(KEYS[3], KEYS[4], KEYS[5])
return {'OK', p, f, n, b, droppedItems, droppedBatches, added}
`;

/**
 * KEYS: epoch, data, pending, inflight, meta
 * ARGV: epoch, max, retentionCutoff (epoch ms; older entries are dropped)
 * Moves up to `max` entries from the head of pending to the tail of inflight.
 * Reply: OK, depth x4, expiredItems, expiredBatches, missing, {id, json, id, json, ...}
 */
export const TAKE = `${COMMON}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'LOSS'} end
allowAtMaxmemory(KEYS[5])
local max, cutoff = tonumber(ARGV[2]), tonumber(ARGV[3])
local out, taken, expiredItems, expiredBatches, missing = {}, 0, 0, 0, 0
while taken < max do
  local id = redis.call('LMOVE', KEYS[3], KEYS[4], 'LEFT', 'RIGHT')
  if not id then break end
  local ts, n, b = parse(id)
  local json = redis.call('HGET', KEYS[2], id)
  if not json then
    -- acked by a former owner after we claimed it, or evicted: nothing to deliver
    redis.call('LREM', KEYS[4], -1, id)
    uncount(KEYS[5], n, b)
    missing = missing + 1
  elseif ts < cutoff then
    redis.call('LREM', KEYS[4], -1, id)
    redis.call('HDEL', KEYS[2], id)
    uncount(KEYS[5], n, b)
    expiredItems = expiredItems + n
    expiredBatches = expiredBatches + 1
  else
    out[#out + 1] = id
    out[#out + 1] = json
    taken = taken + 1
  end
end
local p, f, n, b = depth(KEYS[3], KEYS[4], KEYS[5])
return {'OK', p, f, n, b, expiredItems, expiredBatches, missing, out}
`;

/**
 * KEYS: epoch, data, pending, inflight, meta
 * ARGV: epoch, ids...
 * Removes the entries for good (also ones a sibling claimed meanwhile: their
 * data goes, so the sibling skips them).
 * Reply: OK, depth x4, removedFromInflight
 */
export const ACK = `${COMMON}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'LOSS'} end
allowAtMaxmemory(KEYS[5])
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('LREM', KEYS[4], -1, id) > 0 then
    local _, n, b = parse(id)
    uncount(KEYS[5], n, b)
    removed = removed + 1
  end
  redis.call('HDEL', KEYS[2], id)
end
local p, f, n, b = depth(KEYS[3], KEYS[4], KEYS[5])
return {'OK', p, f, n, b, removed}
`;

/**
 * KEYS: epoch, data, pending, inflight, meta
 * ARGV: epoch, then (id, json-or-empty) pairs. Puts the entries back at the
 * head of pending, ARGV order first. An entry no longer in Redis (taken before
 * a data loss) is written back from the json the client still holds; one a
 * sibling claimed meanwhile is left to the sibling.
 * Reply: OK, depth x4, released, rewritten
 */
export const RELEASE = `${COMMON}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'LOSS'} end
allowAtMaxmemory(KEYS[5])
local released, rewritten = 0, 0
for i = #ARGV - 1, 2, -2 do
  local id, json = ARGV[i], ARGV[i + 1]
  if redis.call('LREM', KEYS[4], -1, id) > 0 then
    redis.call('LPUSH', KEYS[3], id)
    released = released + 1
  elseif json ~= '' and redis.call('HEXISTS', KEYS[2], id) == 0 then
    redis.call('HSET', KEYS[2], id, json)
    redis.call('LPUSH', KEYS[3], id)
    local _, n, b = parse(id)
    redis.call('HINCRBY', KEYS[5], 'items', n)
    redis.call('HINCRBY', KEYS[5], 'bytes', b)
    rewritten = rewritten + 1
  end
end
local p, f, n, b = depth(KEYS[3], KEYS[4], KEYS[5])
return {'OK', p, f, n, b, released, rewritten}
`;

/**
 * KEYS: epoch, data, instances, heartbeat, pending, inflight, meta
 * ARGV: expectedEpoch ('' = first contact: adopt the current epoch or create
 * `newEpoch`), newEpoch, instanceId, leaseMs, replay ('1': move our inflight
 * entries back to the head of pending, in order, except the ids listed from
 * ARGV[7] on), retentionCutoff (drop expired entries at the head of pending),
 * then the ids this process still holds.
 * Replay puts back what nobody holds: entries left by a previous run of this
 * instance id, and entries a TAKE moved after the client had given up on it
 * (timeout). The listed ones are in a caller's hands and stay in flight.
 * Reply: OK, depth x4, epoch, replayed, expiredItems, expiredBatches
 */
export const REGISTER = `${COMMON}
allowAtMaxmemory(KEYS[7])
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if not current then
    redis.call('SET', KEYS[1], ARGV[2])
    current = ARGV[2]
  end
elseif current ~= ARGV[1] then
  return {'LOSS'}
end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SET', KEYS[4], current, 'PX', tonumber(ARGV[4]))
local replayed = 0
if ARGV[5] == '1' then
  local keep = {}
  for i = 7, #ARGV do keep[ARGV[i]] = true end
  local ids = redis.call('LRANGE', KEYS[6], 0, -1)
  if #ids > 0 then
    -- One pass instead of an LREM per id: rebuild inflight with the held ids, in their order.
    redis.call('DEL', KEYS[6])
    for i = #ids, 1, -1 do
      if not keep[ids[i]] then
        redis.call('LPUSH', KEYS[5], ids[i])
        replayed = replayed + 1
      end
    end
    for i = 1, #ids do
      if keep[ids[i]] then redis.call('RPUSH', KEYS[6], ids[i]) end
    end
  end
end
local cutoff, expiredItems, expiredBatches = tonumber(ARGV[6]), 0, 0
while true do
  local id = redis.call('LINDEX', KEYS[5], 0)
  if not id then break end
  local ts, n, b = parse(id)
  if ts >= cutoff then break end
  redis.call('LPOP', KEYS[5])
  redis.call('HDEL', KEYS[2], id)
  uncount(KEYS[7], n, b)
  expiredItems = expiredItems + n
  expiredBatches = expiredBatches + 1
end
local p, f, n, b = depth(KEYS[5], KEYS[6], KEYS[7])
return {'OK', p, f, n, b, current, replayed, expiredItems, expiredBatches}
`;

/**
 * KEYS: epoch, instances, deadHeartbeat, deadPending, deadInflight, deadMeta, pending, inflight, meta
 * ARGV: epoch, deadId
 * Takes over the entries of a sibling whose heartbeat expired: its in-flight
 * entries (taken before it died) go first, then its waiting ones, appended to
 * our pending list in that order. A sibling that is alive is never touched.
 * Reply: OK, depth x4, movedBatches, movedItems   (or {'ALIVE'})
 */
export const CLAIM = `${COMMON}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'LOSS'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'ALIVE'} end
allowAtMaxmemory(KEYS[9])
while redis.call('LMOVE', KEYS[5], KEYS[4], 'RIGHT', 'LEFT') do end
local moved = 0
while redis.call('LMOVE', KEYS[4], KEYS[7], 'LEFT', 'RIGHT') do moved = moved + 1 end
local m = redis.call('HMGET', KEYS[6], 'items', 'bytes')
local items, bytes = tonumber(m[1]) or 0, tonumber(m[2]) or 0
redis.call('HINCRBY', KEYS[9], 'items', items)
redis.call('HINCRBY', KEYS[9], 'bytes', bytes)
redis.call('DEL', KEYS[6])
redis.call('SREM', KEYS[2], ARGV[2])
local p, f, n, b = depth(KEYS[7], KEYS[8], KEYS[9])
return {'OK', p, f, n, b, moved, items}
`;
