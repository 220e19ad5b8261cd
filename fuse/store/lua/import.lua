-- import.lua - many new files in one directory at once (`pressfs import`), each with its
-- permissions, owner, mtime and content (chunks uploaded before), each replacing a file,
-- symlink or whiteout of its name as publish_new does.  ARGV[4] = dir, 5 = the path of DIR
-- from the root where the caller judged the names ('' to check nothing): -EAGAIN, changing
-- nothing and keeping the chunks, when DIR is no longer there; 6 = the names, each followed
-- by a '/' (the one byte besides NUL that no name holds); 7 = one line per name, "MODE UID
-- GID SIZE MTIME CHUNK...", MODE the permission bits as 4 octal digits.  Returns one answer
-- per name, in order: the new inode number, or the negative errno that refused that file
-- (its pending chunks deleted).
local dir, names, recs, at = ARGV[4], {}, {}, 1
while at <= #ARGV[6] do
  local z = string.find(ARGV[6], '/', at, true)
  if not z then return EINVAL end
  names[#names + 1] = string.sub(ARGV[6], at, z - 1)
  at = z + 1
end
for line in string.gmatch(ARGV[7], '[^\n]+') do recs[#recs + 1] = line end
if #recs ~= #names or #names == 0 then return EINVAL end
local function chunks_of(rec) return ids(string.match(rec, '^%S+ %S+ %S+ %S+ %S+(.*)$')) end
if redis.call('EXISTS', D(dir)) == 0 then
  for _, rec in ipairs(recs) do release(chunks_of(rec), {}, 0) end
  return ENOENT
end
if ARGV[5] ~= '' then
  local c = chain(ARGV[5])
  if not c or c[#c] ~= dir then return EAGAIN end
end
-- Each file's checks first, then the writes: the new inodes numbered from one INCRBY, the
-- entries written in one HSET (commands a site's ACL user has: docs/FORMAT.md).
local out, ok, args = {}, {}, {}
for i, name in ipairs(names) do
  local mode, uid, gid, size, mtime =
    string.match(recs[i], '^([0-7][0-7][0-7][0-7]) (%d+) (%d+) (%d+) (%-?%d+)')
  local list = chunks_of(recs[i])
  local err = not mode and EINVAL or check_new(list, {}, tonumber(size), false)
  local t, old = entry(dir, name)
  if not err and t == 'd' then err = EISDIR end
  if err then
    out[i] = release(list, {}, err)
  else
    ok[#ok + 1] = {i, list, '10' .. mode, uid, gid, size, mtime}
    if t and t ~= 'w' then orphan(old) end
  end
end
if #ok == 0 then return out end
local first = redis.call('INCRBY', NEXT, #ok) - #ok
for j, f in ipairs(ok) do
  local ino = string.format('%d', first + j)
  persist(f[2], false)
  redis.call('HSET', I(ino), 'type', 'f', 'mode', f[3], 'uid', f[4], 'gid', f[5],
             'size', f[6], 'mtime', f[7], 'ctime', NOW, 'ver', '1', 'cls', 's',
             'chunks', table.concat(f[2], ' '))
  args[#args + 1] = names[f[1]]
  args[#args + 1] = 'f' .. ino
  out[f[1]] = ino
end
redis.call('HSET', D(dir), unpack(args))
for _, f in ipairs(ok) do pub('E', dir, names[f[1]]) end
touch(dir)
return out
