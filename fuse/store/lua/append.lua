-- append.lua - O_APPEND across peers: data added at the file's end as it is now.
-- ARGV[4] = ino, 5 = data, 6 = mtime.  Returns {ino, field, value, ...}.
local err = append_to(ARGV[4], ARGV[5], ARGV[6])
if err then return err end
return reply(ARGV[4])
