-- create.lua - a new file, directory, symlink or special file under a name that is
-- absent or a whiteout.  ARGV[4] = dir, 5 = name, 6 = type (f/d/l, or p/s/c/b), 7 = mode
-- (octal), 8 = uid, 9 = gid, 10 = cls, 11 = symlink target, 12 = rdev of a device.  Returns
-- {ino, field, value, ...}.
local dir, name, t = ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end
local old = redis.call('HGET', D(dir), name)
if old and old ~= 'w' then return EEXIST end
local ino = newid()
local h = {'type', t, 'mode', ARGV[7], 'uid', ARGV[8], 'gid', ARGV[9], 'size', '0',
           'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', ARGV[10]}
if t == 'f' then
  h[#h + 1] = 'chunks'; h[#h + 1] = ''
elseif t == 'l' then
  h[10] = tostring(#ARGV[11])
  h[#h + 1] = 'target'; h[#h + 1] = ARGV[11]
elseif t == 'p' or t == 's' or t == 'c' or t == 'b' then
  h[#h + 1] = 'rdev'; h[#h + 1] = ARGV[12] or '0'
elseif t ~= 'd' then
  return EINVAL
else
  h[#h + 1] = 'opaque'; h[#h + 1] = old and '1' or '0'
  h[#h + 1] = 'parent'; h[#h + 1] = dir
  h[#h + 1] = 'nlink'; h[#h + 1] = '2'
  redis.call('HSET', D(ino), '.', '')
end
redis.call('HSET', I(ino), unpack(h))
redis.call('HSET', D(dir), name, t .. ino)
links(dir, t == 'd' and 1 or 0)
touch(dir)
pub('E', dir, name)
return reply(ino)
