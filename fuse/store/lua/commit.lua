-- commit.lua - new content (size and chunk list) for an existing file.
-- ARGV[4] = ino, 5 = size, 6 = chunk list, 7 = mtime.  Returns {ino, field, value, ...}.
local ino = ARGV[4]
local k = I(ino)
local h = hash(k)
-- the file's own chunks (even in their grace, when it was unlinked) are never released
local list, old = ids(ARGV[6]), ids(h.chunks)
if not h.type or h.unlinked then return release(list, set(old), ENOENT) end
if h.type == 'd' then return release(list, set(old), EISDIR) end
if h.type ~= 'f' then return release(list, set(old), EINVAL) end
local size, cur = tonumber(ARGV[5]), tonumber(h.size)
local mc = h.cls == 'c'
local err = check_new(list, set(old), size, mc)
if err then return release(list, set(old), err) end
persist(list, mc)
local at = {}
-- (memcached content is never kept across a commit: the writer uploads every chunk)
if not mc then for i, id in ipairs(old) do at[id] = i - 1 end end
for i, id in ipairs(list) do
  if at[id] and id ~= '0' then
    -- a kept chunk whose logical length grows must read as zeros past its old end:
    -- if it holds stale bytes there (a truncation kept it), keep only its old part
    local was = math.max(0, math.min(CH, cur - at[id] * CH))
    local now = math.max(0, math.min(CH, size - (i - 1) * CH))
    if now > was and redis.call('STRLEN', C(id)) > was then
      local nid = newid()
      local head = ''
      if was > 0 then head = redis.call('GETRANGE', C(id), 0, was - 1) end
      redis.call('SET', C(nid), head)
      list[i] = nid
    end
  end
end
local keep = set(list)
for _, id in ipairs(old) do
  if id ~= '0' and not keep[id] then redis.call('PEXPIRE', C(id), GRACE) end
end
redis.call('HSET', k, 'size', ARGV[5], 'chunks', table.concat(list, ' '),
           'mtime', ARGV[7], 'ctime', NOW)
redis.call('HINCRBY', k, 'ver', 1)
pub('I', ino)
return reply(ino)
