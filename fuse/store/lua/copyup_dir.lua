-- copyup_dir.lua - the upper copy of a lower directory: the existing one, or a new one.
-- ARGV[4] = dir, 5 = name, 6 = mode (octal), 7 = uid, 8 = gid, 9 = mtime, 10 = the lower
-- directory's inode number, kept as a new directory's lino ('0' or absent: none).  Returns the
-- ino of the (possibly new) directory, as a string.
local dir, name = ARGV[4], ARGV[5]
if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end
local t, i = entry(dir, name)
if t == 'd' then return i end
if t then return EEXIST end
local ino = newid()
redis.call('HSET', I(ino), 'type', 'd', 'mode', ARGV[6], 'uid', ARGV[7], 'gid', ARGV[8],
           'size', '0', 'mtime', ARGV[9], 'ctime', NOW, 'ver', '1', 'cls', 's',
           'opaque', '0', 'parent', dir, 'nlink', '2')
if ARGV[10] and string.match(ARGV[10], '^[1-9]%d*$') then
  redis.call('HSET', I(ino), 'lino', ARGV[10])
end
redis.call('HSET', D(ino), '.', '')
redis.call('HSET', D(dir), name, 'd' .. ino)
links(dir, 1)
bump(dir)
pub('E', dir, name)
return ino
