-- rename.lua - moves one entry, replacing what the target name holds.
-- ARGV[4] = sdir, 5 = sname, 6 = ddir, 7 = dname, 8 = noreplace, 9 = whiteout, 10 = opaque
-- ('1' or '0').  Returns 0.
local sdir, sname, ddir, dname = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', D(sdir)) == 0 or redis.call('EXISTS', D(ddir)) == 0 then
  return ENOENT
end
local sv = redis.call('HGET', D(sdir), sname)
if not sv or sv == 'w' then return ENOENT end
local st, sino = string.sub(sv, 1, 1), string.sub(sv, 2)
if sdir == ddir and sname == dname then return 0 end
local dt, dino = entry(ddir, dname)
if dt and dt ~= 'w' then
  if ARGV[8] == '1' then return EEXIST end
  if dino == sino then return 0 end
  if st == 'd' then
    if dt ~= 'd' then return ENOTDIR end
    if not only_whiteouts(dino) then return ENOTEMPTY end
  elseif dt == 'd' then
    return EISDIR
  end
  orphan(dino)
end
redis.call('HSET', D(ddir), dname, sv)
if ARGV[9] == '1' then
  redis.call('HSET', D(sdir), sname, 'w')
else
  redis.call('HDEL', D(sdir), sname)
end
if st == 'd' and ARGV[10] == '1' then redis.call('HSET', I(sino), 'opaque', '1') end
redis.call('HSET', I(sino), 'ctime', NOW)
redis.call('HINCRBY', I(sino), 'ver', 1)
touch(sdir)
if ddir ~= sdir then touch(ddir) end
pub('E', sdir, sname)
pub('E', ddir, dname)
pub('I', sino)
return 0
