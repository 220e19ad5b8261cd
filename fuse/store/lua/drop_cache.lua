-- drop_cache.lua - removes a cache-class file whose content memcached no longer has.
-- ARGV[4] = dir, 5 = name, 6 = ino, 7 = version, 8 = '1' to leave a whiteout.  NAME is
-- removed only if it is still that very version of that inode (a newer one written
-- meanwhile stays).  The message's origin is empty, so the peer that noticed forgets the
-- name too.  Returns 1 if removed, else 0.
local dir, name, ino = ARGV[4], ARGV[5], ARGV[6]
local t, cur = entry(dir, name)
if t ~= 'f' or cur ~= ino then return 0 end
local h = hash(I(ino))
if h.cls ~= 'c' or h.ver ~= ARGV[7] then return 0 end
orphan(ino)
if ARGV[8] == '1' then
  redis.call('HSET', D(dir), name, 'w')
else
  redis.call('HDEL', D(dir), name)
end
touch(dir)
PEER = ''
pub('E', dir, name)
return 1
