-- remove.lua - unlink and rmdir.
-- ARGV[4] = dir, 5 = name, 6 = '1' to leave a whiteout, 7 = 'd' for rmdir, 'f' for unlink.
-- With a whiteout asked for and no entry at all, the whiteout alone is written (a lower
-- entry being deleted).  Returns 0.
local dir, name, wh, want = ARGV[4], ARGV[5], ARGV[6] == '1', ARGV[7]
if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end
local t, ino = entry(dir, name)
if t == 'w' then return ENOENT end
if t then
  if want == 'd' then
    if t ~= 'd' then return ENOTDIR end
    if not only_whiteouts(ino) then return ENOTEMPTY end
  elseif t == 'd' then
    return EISDIR
  end
elseif not wh then
  return ENOENT
end
if t then orphan(ino) end
if wh then redis.call('HSET', D(dir), name, 'w') else redis.call('HDEL', D(dir), name) end
links(dir, t == 'd' and -1 or 0)
touch(dir)
pub('E', dir, name)
return 0
