-- lookup.lua - one name of one directory, with its inode record.
-- ARGV[4] = dir, ARGV[5] = name.  Returns 0 for a whiteout, {ino, field, value, ...} for an
-- entry, -ENOENT, or -ESTALE when the directory itself is gone.
local v = redis.call('HGET', D(ARGV[4]), ARGV[5])
if not v then
  if redis.call('EXISTS', D(ARGV[4])) == 0 then return ESTALE end
  return ENOENT
end
if v == 'w' then return 0 end
local t, ino = string.sub(v, 1, 1), string.sub(v, 2)
local r = redis.call('HGETALL', I(ino))
local ok = false
for i = 1, #r, 2 do
  if r[i] == 'type' then ok = r[i + 1] == t end
end
if not ok then return EIO end  -- a dangling or damaged entry
table.insert(r, 1, ino)
return r
