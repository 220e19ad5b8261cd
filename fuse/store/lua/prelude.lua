-- prelude.lua - what every script of the store starts with (after keys.lua, the key table):
-- the calling convention and the helpers.  The build joins keys.lua, this file and one
-- script into obj/fuse/store/lua/NAME.lua, which `redis-cli --eval` runs as it is.
--
--   KEYS[1] = the site prefix "pressfs:{SITE}:" (its hash tag routes the call to the site's slot)
--   ARGV[1] = the caller's clock, nanoseconds since the epoch (becomes ctime, and mtime of
--             changed directories); ARGV[2] = the caller's peer id (origin of the invalidation
--             messages); ARGV[3] = grace in milliseconds; ARGV[4...] = the script's own.
-- A script returns a negative errno as an integer, or its result.  All checks come before the
-- first write, so a refused change leaves nothing behind.  Key names come only from K.
local P, NOW, PEER, GRACE = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local ENOENT, EEXIST, ENOTDIR, EISDIR = -E.NOENT, -E.EXIST, -E.NOTDIR, -E.ISDIR
local EINVAL, ENOTEMPTY, EIO, ESTALE, EPROTO = -E.INVAL, -E.NOTEMPTY, -E.IO, -E.STALE, -E.PROTO
local ENODATA, EPERM, EAGAIN, EXDEV = -E.NODATA, -E.PERM, -E.AGAIN, -E.XDEV
local FORMAT, NEXT, INVAL, SEQ = P .. K.format, P .. K.next, P .. K.inval, P .. K.seq
local function I(n) return P .. K.inode .. n end
local function D(n) return P .. K.dir .. n end
local function C(n) return P .. K.chunk .. n end
-- Each message carries the next number of the site's sequence, taken in the same atomic step
-- as the change it announces: a listener that sees a number skipped knows it missed one.
local function pub(kind, ino, name)
  local seq = redis.call('INCR', SEQ)
  redis.call('PUBLISH', INVAL, kind .. ':' .. seq .. ' ' .. ino .. ' ' .. PEER ..
             string.char(0) .. (name or ''))
end
local function newid() return string.format('%d', redis.call('INCR', NEXT)) end
local function hash(k)
  local r, t = redis.call('HGETALL', k), {}
  for i = 1, #r, 2 do t[r[i]] = r[i + 1] end
  return t
end
local function ids(s)
  local t = {}
  if s then for id in string.gmatch(s, '%d+') do t[#t + 1] = id end end
  return t
end
local function set(list)
  local t = {}
  for _, id in ipairs(list) do t[id] = true end
  return t
end
local function entry(dir, name)
  local v = redis.call('HGET', D(dir), name)
  if not v then return nil, nil end
  return string.sub(v, 1, 1), string.sub(v, 2)
end
-- The directories PATH ("/a/b") passes through from the root, as a list of inos from '1' to
-- the one it names, or nil when a part of it is no directory (any more).
local function chain(path)
  local t, ino = {'1'}, '1'
  for name in string.gmatch(path, '[^/]+') do
    local ty, i = entry(ino, name)
    if ty ~= 'd' then return nil end
    ino = i
    t[#t + 1] = ino
  end
  return t
end
local function reply(ino)
  local r = redis.call('HGETALL', I(ino))
  table.insert(r, 1, ino)
  return r
end
local function touch(dir)
  redis.call('HSET', I(dir), 'mtime', NOW, 'ctime', NOW)
  redis.call('HINCRBY', I(dir), 'ver', 1)
end
-- DIR's entries changed, DELTA of them directories (+1 made or moved in, -1 removed or moved
-- away): its link count `nlink` (2 + the directories among its entries) follows, so that
-- reading it is one field, however large DIR is.  A directory without it (made before it
-- was kept) is counted once, here, from its entries as they now are.
local function links(dir, delta)
  local n = tonumber(redis.call('HGET', I(dir), 'nlink'))
  if n then
    if delta ~= 0 then redis.call('HSET', I(dir), 'nlink', string.format('%d', n + delta)) end
    return
  end
  n = 2
  local r = redis.call('HGETALL', D(dir))  -- (HVALS is not among the commands of an ACL)
  for i = 2, #r, 2 do
    if string.sub(r[i], 1, 1) == 'd' then n = n + 1 end
  end
  redis.call('HSET', I(dir), 'nlink', string.format('%d', n))
end
-- A change of the store's listing that the merged one does not show (a copy-up): peers must
-- drop what they hold of DIR, but its times stay those of the directory users see.
local function bump(dir)
  redis.call('HINCRBY', I(dir), 'ver', 1)
end
local function only_whiteouts(dir)
  local r = redis.call('HGETALL', D(dir))
  for i = 1, #r, 2 do
    if r[i] ~= '.' and r[i + 1] ~= 'w' then return false end
  end
  return true
end
-- One name of INO is gone: with other names left (hard links) it loses a link, else it is
-- freed after the grace.
local function orphan(ino)
  local k = I(ino)
  local h = hash(k)
  local links = tonumber(h.nlink) or 1
  if h.type ~= 'd' and links > 1 then
    if links == 2 then redis.call('HDEL', k, 'nlink')
    else redis.call('HSET', k, 'nlink', tostring(links - 1)) end
    redis.call('HSET', k, 'ctime', NOW)
    redis.call('HINCRBY', k, 'ver', 1)
    pub('I', ino)
    return
  end
  for _, id in ipairs(ids(h.chunks)) do
    if id ~= '0' then redis.call('PEXPIRE', C(id), GRACE) end
  end
  if h.type == 'd' then redis.call('DEL', D(ino)) end
  redis.call('HSET', k, 'unlinked', NOW, 'ctime', NOW)
  redis.call('HINCRBY', k, 'ver', 1)
  redis.call('PEXPIRE', k, GRACE)
  pub('I', ino)
end
local function check_new(list, old, size, mc)
  if #list > math.ceil(size / CH) then return EINVAL end
  local seen = {}
  for _, id in ipairs(list) do
    if id ~= '0' then
      if seen[id] then return EINVAL end
      seen[id] = true
      if not old[id] and not mc then
        local ttl = redis.call('PTTL', C(id))
        if ttl == -2 then return EIO end
        if ttl == -1 then return EINVAL end
      end
    end
  end
  return nil
end
-- A refused publish or commit: the pending chunks of LIST (those with a TTL, not in OLD: they
-- belong to nobody but this call) are deleted at once rather than after pending_ttl, so that a
-- Redis that is full (noeviction) gets its memory back.  Returns ERR.
local function release(list, old, err)
  for _, id in ipairs(list) do
    if id ~= '0' and not old[id] and redis.call('PTTL', C(id)) > 0 then
      redis.call('DEL', C(id))
    end
  end
  return err
end
local function persist(list, mc)
  if mc then return end  -- the content is in memcached
  for _, id in ipairs(list) do
    if id ~= '0' then redis.call('PERSIST', C(id)) end
  end
end
-- append_to(ino, data, mtime) appends DATA at the file's current end: fills the last chunk
-- (in place only when its stored length is its logical length, else into a copy) and spills
-- into new chunks.  Returns nil, or a negative errno before any write.
local function append_to(ino, data, mtime)
  local k = I(ino)
  local h = hash(k)
  if not h.type or h.unlinked then return ENOENT end
  if h.type == 'd' then return EISDIR end
  if h.type ~= 'f' then return EINVAL end
  local size, list, n, pos = tonumber(h.size), ids(h.chunks), #data, 1
  local idx = math.floor(size / CH)
  local off = size - idx * CH
  for i = #list + 1, idx do list[i] = '0' end
  if off > 0 then
    local take = math.min(CH - off, n)
    local id = list[idx + 1]
    local piece = string.sub(data, 1, take)
    if id and id ~= '0' and redis.call('STRLEN', C(id)) == off then
      redis.call('APPEND', C(id), piece)
    else
      local head = ''
      if id and id ~= '0' then
        head = redis.call('GETRANGE', C(id), 0, off - 1)
        redis.call('PEXPIRE', C(id), GRACE)
      end
      if #head < off then head = head .. string.rep(string.char(0), off - #head) end
      local nid = newid()
      redis.call('SET', C(nid), head .. piece)
      list[idx + 1] = nid
    end
    pos = take + 1
  end
  while pos <= n do
    local piece = string.sub(data, pos, pos + CH - 1)
    local nid = newid()
    redis.call('SET', C(nid), piece)
    list[#list + 1] = nid
    pos = pos + #piece
  end
  redis.call('HSET', k, 'size', string.format('%d', size + n),
             'chunks', table.concat(list, ' '), 'mtime', mtime, 'ctime', NOW)
  redis.call('HINCRBY', k, 'ver', 1)
  pub('I', ino)
  return nil
end
