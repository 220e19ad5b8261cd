-- rename.lua - moves one entry, replacing what the target name holds.
-- ARGV[4] = sdir, 5 = sname, 6 = ddir, 7 = dname, 8 = noreplace, 9 = whiteout, 10 = opaque
-- ('1' or '0').  What the caller judged the move on, each '' (or absent) to check nothing:
-- 11 = the ino SNAME held, 12 = the path of DDIR from the root ("/a/b"), 13 = "ino:ver ..."
-- the directories a moved directory's judgement walked, at the versions read before.  Any of
-- them changed since (another peer moved or made something meanwhile): -EAGAIN, and the
-- caller judges again.  A directory is never moved below itself (-EINVAL): DDIR's ancestry is
-- walked up through `parent`, filled from the path of 12 where a directory lacks it;
-- unprovable without 12: -EXDEV (the caller copies, judging each copy).  Returns 0.
local sdir, sname, ddir, dname = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local want, dpath, walked = ARGV[11] or '', ARGV[12] or '', ARGV[13] or ''
if redis.call('EXISTS', D(sdir)) == 0 or redis.call('EXISTS', D(ddir)) == 0 then
  return ENOENT
end
local sv = redis.call('HGET', D(sdir), sname)
if not sv or sv == 'w' then return ENOENT end
local st, sino = string.sub(sv, 1, 1), string.sub(sv, 2)
if sdir == ddir and sname == dname then return 0 end
if want ~= '' and want ~= sino then return EAGAIN end
for ino, ver in string.gmatch(walked, '(%d+):(%d+)') do
  if redis.call('HGET', I(ino), 'ver') ~= ver then return EAGAIN end
end
local c, known = {}, {}  -- DDIR's ancestry from the root, and ino -> parent, as 12 proves it
if dpath ~= '' then
  c = chain(dpath)
  if not c or c[#c] ~= ddir then return EAGAIN end
  for k = 2, #c do known[c[k]] = c[k - 1] end
end
if st == 'd' and sdir ~= ddir then
  local p, n = ddir, 0
  while p ~= '1' do
    if p == sino then return EINVAL end
    n = n + 1
    p = known[p] or redis.call('HGET', I(p), 'parent')
    if not p or n > 4096 then return EXDEV end
  end
end
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
if st == 'd' then
  if ARGV[10] == '1' then redis.call('HSET', I(sino), 'opaque', '1') end
  redis.call('HSET', I(sino), 'parent', ddir)
  -- Directories made before `parent` existed learn theirs from the path just proven.
  for k = 2, #c do
    if redis.call('HGET', I(c[k]), 'parent') ~= c[k - 1] then
      redis.call('HSET', I(c[k]), 'parent', c[k - 1])
    end
  end
end
-- The link counts: a directory moved leaves SDIR and joins DDIR; one replaced leaves DDIR.
local out, into = st == 'd' and 1 or 0, (st == 'd' and 1 or 0) - (dt == 'd' and 1 or 0)
if ddir == sdir then links(sdir, into - out) else links(sdir, -out); links(ddir, into) end
redis.call('HSET', I(sino), 'ctime', NOW)
redis.call('HINCRBY', I(sino), 'ver', 1)
touch(sdir)
if ddir ~= sdir then touch(ddir) end
pub('E', sdir, sname)
pub('E', ddir, dname)
pub('I', sino)
return 0
