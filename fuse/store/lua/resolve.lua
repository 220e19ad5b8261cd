-- resolve.lua - walks a path of directories from the root.
-- ARGV[4] = "/a/b".  Returns the directory's ino (a string), or 0.
local ino = '1'
for name in string.gmatch(ARGV[4], '[^/]+') do
  local t, i = entry(ino, name)
  if t ~= 'd' then return 0 end
  ino = i
end
if redis.call('EXISTS', D(ino)) == 0 then return 0 end
return ino
