-- where.lua - the path from the root of directory ARGV[4] as the store has it now: up through
-- `parent`, each step named by the entry of its parent that holds it.  Returns the path
-- ("/a/b"; "/" for the root), or 0 when it cannot be told (gone, or made before `parent`).
local ino, parts, n = ARGV[4], {}, 0
while ino ~= '1' do
  n = n + 1
  local up = redis.call('HGET', I(ino), 'parent')
  if not up or redis.call('HGET', I(ino), 'unlinked') or n > 4096 then return 0 end
  local r, name = redis.call('HGETALL', D(up)), nil
  for i = 1, #r, 2 do
    if r[i + 1] == 'd' .. ino then name = r[i]; break end
  end
  if not name then return 0 end
  table.insert(parts, 1, name)
  ino = up
end
return '/' .. table.concat(parts, '/')
