-- init.lua - run on every new connection: creates an empty site, or checks its format
-- version, and re-creates a missing root directory.
-- ARGV[4] = format version.  Returns 0 (site ready), 1 (empty site initialised), 2 (format
-- found but the root was missing and has been re-created: the data was lost), -EPROTO (another
-- format version), or -ENODATA (keys but no format marker: it was lost, flushed or evicted).
local fmt = redis.call('GET', FORMAT)
if fmt and fmt ~= ARGV[4] then return EPROTO end
local made = 0
if not fmt then
  if redis.call('EXISTS', NEXT) == 1 then return ENODATA end
  redis.call('SET', FORMAT, ARGV[4])
  redis.call('SET', NEXT, '1')
  made = 1
end
if redis.call('EXISTS', D('1')) == 0 then
  if made == 0 then made = 2 end
  redis.call('HSET', I('1'), 'type', 'd', 'mode', '40755', 'uid', '0', 'gid', '0',
             'size', '0', 'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', 's',
             'opaque', '0', 'nlink', '2')
  redis.call('HDEL', I('1'), 'unlinked')
  redis.call('PERSIST', I('1'))
  redis.call('HSET', D('1'), '.', '')
end
return made
