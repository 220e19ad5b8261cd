-- link.lua - a hard link: one more name for an existing file or special file.
-- ARGV[4] = ino, 5 = dir, 6 = name (absent or a whiteout).  The inode's nlink (absent: 1)
-- grows by one.  Returns {ino, field, value, ...}.
local ino, dir, name = ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end
local h = hash(I(ino))
if not h.type or h.unlinked then return ENOENT end
if h.type == 'd' then return EPERM end
if h.cls == 'c' then return EPERM end
local old = redis.call('HGET', D(dir), name)
if old and old ~= 'w' then return EEXIST end
redis.call('HSET', D(dir), name, h.type .. ino)
redis.call('HSET', I(ino), 'nlink', tostring((tonumber(h.nlink) or 1) + 1), 'ctime', NOW)
redis.call('HINCRBY', I(ino), 'ver', 1)
touch(dir)
pub('E', dir, name)
pub('I', ino)
return reply(ino)
