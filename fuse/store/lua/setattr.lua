-- setattr.lua - mode, owner, mtime and atime of an inode.
-- ARGV[4] = ino, 5 = permission bits as 4 octal digits, 6 = uid, 7 = gid, 8 = mtime,
-- 9 = atime; an empty string leaves that attribute alone.  Returns {ino, field, value, ...}.
local ino = ARGV[4]
local k = I(ino)
local h = hash(k)
if not h.type or h.unlinked then return ENOENT end
local pre = ({f = '10', d = '4', l = '12', p = '1', s = '14', c = '2', b = '6'})[h.type]
if not pre then return EIO end
if ARGV[5] ~= '' then redis.call('HSET', k, 'mode', pre .. ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', k, 'uid', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', k, 'gid', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', k, 'mtime', ARGV[8]) end
if ARGV[9] and ARGV[9] ~= '' then redis.call('HSET', k, 'atime', ARGV[9]) end
redis.call('HSET', k, 'ctime', NOW)
redis.call('HINCRBY', k, 'ver', 1)
pub('I', ino)
return reply(ino)
