-- publish_new.lua - a new file under a name, replacing a file, symlink or whiteout.
-- ARGV[4] = dir, 5 = name, 6 = mode (octal), 7 = uid, 8 = gid, 9 = cls, 10 = size,
-- 11 = chunk list, 12 = '1' to merge: when a file already has the name (another peer created
-- it since), the new file's data is appended to that file instead of replacing it; 13 = the
-- inode number to give the new file ('0' or absent: a new one; see store_publish_new_as),
-- 14 = its lino ('0' or absent: none); 15 = the path of DIR from the root ("/a/b") where the
-- caller judged the name, '' (or absent) to check nothing: -EAGAIN when DIR is no longer there
-- (another peer moved it meanwhile), keeping the chunks for the caller's next try.  Returns
-- {ino, field, value, ...}.
local dir, name, size = ARGV[4], ARGV[5], tonumber(ARGV[10])
local mc = ARGV[9] == 'c'
local list = ids(ARGV[11])
if redis.call('EXISTS', D(dir)) == 0 then return release(list, {}, ENOENT) end
if (ARGV[15] or '') ~= '' then
  local c = chain(ARGV[15])
  if not c or c[#c] ~= dir then return EAGAIN end
end
local err = check_new(list, {}, size, mc)
if err then return release(list, {}, err) end
local t, old = entry(dir, name)
if t == 'd' then return release(list, {}, EISDIR) end
if t == 'f' and ARGV[12] == '1' and not mc then
  local parts = {}
  for i, id in ipairs(list) do
    local want = math.min(CH, size - (i - 1) * CH)
    local p = ''
    if id ~= '0' then p = redis.call('GETRANGE', C(id), 0, want - 1) end
    if #p < want then p = p .. string.rep(string.char(0), want - #p) end
    parts[i] = p
  end
  local data = table.concat(parts)
  if #data < size then data = data .. string.rep(string.char(0), size - #data) end
  err = append_to(old, data, NOW)
  if err then return release(list, {}, err) end
  for _, id in ipairs(list) do
    if id ~= '0' then redis.call('DEL', C(id)) end
  end
  return reply(old)
end
if t and t ~= 'w' then orphan(old) end
-- A reserved number is taken only if the site handed it out and no inode has it (a retried
-- publish whose first try took effect): never one another id could still become.
local ino = ARGV[13]
if not ino or not string.match(ino, '^[1-9]%d*$') or
    tonumber(ino) > tonumber(redis.call('GET', NEXT) or '0') or
    redis.call('EXISTS', I(ino)) == 1 then
  ino = newid()
end
persist(list, mc)
redis.call('HSET', I(ino), 'type', 'f', 'mode', ARGV[6], 'uid', ARGV[7], 'gid', ARGV[8],
           'size', ARGV[10], 'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', ARGV[9],
           'chunks', table.concat(list, ' '))
if ARGV[14] and string.match(ARGV[14], '^[1-9]%d*$') then
  redis.call('HSET', I(ino), 'lino', ARGV[14])
end
redis.call('HSET', D(dir), name, 'f' .. ino)
links(dir, 0)
touch(dir)
pub('E', dir, name)
return reply(ino)
