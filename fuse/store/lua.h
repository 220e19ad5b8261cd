/* store_lua.h - the Lua scripts that make each metadata change of the shared store one atomic
 * step in Redis (included by store.c only; docs/FORMAT.md describes what they do to the keys).
 *
 * Calling convention, the same for every script:
 *   KEYS[1] = the site prefix "pressfs:{SITE}:" (its hash tag routes the call to the site's slot)
 *   ARGV[1] = the caller's clock, nanoseconds since the epoch (becomes ctime, and mtime of
 *             changed directories); ARGV[2] = the caller's node id (origin of the invalidation
 *             messages); ARGV[3] = grace in milliseconds; ARGV[4...] = the script's own.
 * A script returns a negative errno as an integer, or its result.  All checks come before the
 * first write, so a refused change leaves nothing behind. */
#ifndef PRESSFS_STORE_LUA_H
#define PRESSFS_STORE_LUA_H

#include <errno.h>

#include "store/store.h"

/* The scripts are laid out as Lua, one line per string: clang-format would reflow them. */
/* clang-format off */
#define LUA_STR_(x) #x
#define LUA_STR(x) LUA_STR_(x)

/* Helpers every script starts with. */
#define LUA_PRELUDE                                                                                \
	"local P, NOW, NODE, GRACE = KEYS[1], ARGV[1], ARGV[2], ARGV[3]\n"                         \
	"local CH = " LUA_STR(STORE_CHUNK_SIZE) "\n"                                               \
	"local ENOENT, EEXIST, ENOTDIR, EISDIR = -" LUA_STR(ENOENT) ", -" LUA_STR(                 \
		EEXIST) ", -" LUA_STR(ENOTDIR) ", -" LUA_STR(EISDIR) "\n"                          \
	"local EINVAL, ENOTEMPTY, EIO, ESTALE = -" LUA_STR(EINVAL) ", -" LUA_STR(                  \
		ENOTEMPTY) ", -" LUA_STR(EIO) ", -" LUA_STR(ESTALE) "\n"                           \
	"local EPROTO = -" LUA_STR(EPROTO) "\n"                                                    \
	"local function I(n) return P .. 'i:' .. n end\n"                                          \
	"local function D(n) return P .. 'd:' .. n end\n"                                          \
	"local function C(n) return P .. 'c:' .. n end\n"                                          \
	"local function pub(kind, ino, name)\n"                                                    \
	"  redis.call('PUBLISH', P .. 'inval',\n"                                                  \
	"             kind .. ' ' .. ino .. ' ' .. NODE .. string.char(0) .. (name or ''))\n"     \
	"end\n"                                                                                    \
	"local function newid() return string.format('%d', redis.call('INCR', P .. 'next')) end\n" \
	"local function hash(k)\n"                                                                 \
	"  local r, t = redis.call('HGETALL', k), {}\n"                                            \
	"  for i = 1, #r, 2 do t[r[i]] = r[i + 1] end\n"                                           \
	"  return t\n"                                                                             \
	"end\n"                                                                                    \
	"local function ids(s)\n"                                                                  \
	"  local t = {}\n"                                                                         \
	"  if s then for id in string.gmatch(s, '%d+') do t[#t + 1] = id end end\n"               \
	"  return t\n"                                                                             \
	"end\n"                                                                                    \
	"local function set(list)\n"                                                               \
	"  local t = {}\n"                                                                         \
	"  for _, id in ipairs(list) do t[id] = true end\n"                                        \
	"  return t\n"                                                                             \
	"end\n"                                                                                    \
	"local function entry(dir, name)\n"                                                        \
	"  local v = redis.call('HGET', D(dir), name)\n"                                           \
	"  if not v then return nil, nil end\n"                                                    \
	"  return string.sub(v, 1, 1), string.sub(v, 2)\n"                                         \
	"end\n"                                                                                    \
	"local function reply(ino)\n"                                                              \
	"  local r = redis.call('HGETALL', I(ino))\n"                                              \
	"  table.insert(r, 1, ino)\n"                                                              \
	"  return r\n"                                                                             \
	"end\n"                                                                                    \
	"local function touch(dir)\n"                                                              \
	"  redis.call('HSET', I(dir), 'mtime', NOW, 'ctime', NOW)\n"                               \
	"  redis.call('HINCRBY', I(dir), 'ver', 1)\n"                                              \
	"end\n"                                                                                    \
	"local function only_whiteouts(dir)\n"                                                     \
	"  local r = redis.call('HGETALL', D(dir))\n"                                              \
	"  for i = 1, #r, 2 do\n"                                                                  \
	"    if r[i] ~= '.' and r[i + 1] ~= 'w' then return false end\n"                           \
	"  end\n"                                                                                  \
	"  return true\n"                                                                          \
	"end\n"                                                                                    \
	"local function orphan(ino)\n"                                                             \
	"  local k = I(ino)\n"                                                                     \
	"  local h = hash(k)\n"                                                                    \
	"  for _, id in ipairs(ids(h.chunks)) do\n"                                                \
	"    if id ~= '0' then redis.call('PEXPIRE', C(id), GRACE) end\n"                          \
	"  end\n"                                                                                  \
	"  if h.type == 'd' then redis.call('DEL', D(ino)) end\n"                                  \
	"  redis.call('HSET', k, 'unlinked', NOW, 'ctime', NOW)\n"                                 \
	"  redis.call('HINCRBY', k, 'ver', 1)\n"                                                   \
	"  redis.call('PEXPIRE', k, GRACE)\n"                                                      \
	"  pub('I', ino)\n"                                                                        \
	"end\n"                                                                                    \
	"local function check_new(list, old, size, mc)\n"                                          \
	"  if #list > math.ceil(size / CH) then return EINVAL end\n"                               \
	"  local seen = {}\n"                                                                      \
	"  for _, id in ipairs(list) do\n"                                                         \
	"    if id ~= '0' then\n"                                                                  \
	"      if seen[id] then return EINVAL end\n"                                               \
	"      seen[id] = true\n"                                                                  \
	"      if not old[id] and not mc then\n"                                                   \
	"        local ttl = redis.call('PTTL', C(id))\n"                                          \
	"        if ttl == -2 then return EIO end\n"                                               \
	"        if ttl == -1 then return EINVAL end\n"                                            \
	"      end\n"                                                                              \
	"    end\n"                                                                                \
	"  end\n"                                                                                  \
	"  return nil\n"                                                                           \
	"end\n"                                                                                    \
	"local function persist(list, mc)\n"                                                       \
	"  if mc then return end  -- the content is in memcached\n"                                \
	"  for _, id in ipairs(list) do\n"                                                         \
	"    if id ~= '0' then redis.call('PERSIST', C(id)) end\n"                                 \
	"  end\n"                                                                                  \
	"end\n"

/* append_to(ino, data, mtime) appends DATA at the file's current end: fills the last chunk
 * (in place only when its stored length is its logical length, else into a copy) and spills
 * into new chunks.  Returns nil, or a negative errno before any write. */
#define LUA_APPEND_TO                                                                              \
	"local function append_to(ino, data, mtime)\n"                                             \
	"  local k = I(ino)\n"                                                                     \
	"  local h = hash(k)\n"                                                                    \
	"  if not h.type or h.unlinked then return ENOENT end\n"                                   \
	"  if h.type == 'd' then return EISDIR end\n"                                              \
	"  if h.type ~= 'f' then return EINVAL end\n"                                              \
	"  local size, list, n, pos = tonumber(h.size), ids(h.chunks), #data, 1\n"                 \
	"  local idx = math.floor(size / CH)\n"                                                    \
	"  local off = size - idx * CH\n"                                                          \
	"  for i = #list + 1, idx do list[i] = '0' end\n"                                          \
	"  if off > 0 then\n"                                                                      \
	"    local take = math.min(CH - off, n)\n"                                                 \
	"    local id = list[idx + 1]\n"                                                           \
	"    local piece = string.sub(data, 1, take)\n"                                            \
	"    if id and id ~= '0' and redis.call('STRLEN', C(id)) == off then\n"                    \
	"      redis.call('APPEND', C(id), piece)\n"                                               \
	"    else\n"                                                                               \
	"      local head = ''\n"                                                                  \
	"      if id and id ~= '0' then\n"                                                         \
	"        head = redis.call('GETRANGE', C(id), 0, off - 1)\n"                               \
	"        redis.call('PEXPIRE', C(id), GRACE)\n"                                            \
	"      end\n"                                                                              \
	"      if #head < off then head = head .. string.rep(string.char(0), off - #head) end\n"   \
	"      local nid = newid()\n"                                                              \
	"      redis.call('SET', C(nid), head .. piece)\n"                                         \
	"      list[idx + 1] = nid\n"                                                              \
	"    end\n"                                                                                \
	"    pos = take + 1\n"                                                                     \
	"  end\n"                                                                                  \
	"  while pos <= n do\n"                                                                    \
	"    local piece = string.sub(data, pos, pos + CH - 1)\n"                                  \
	"    local nid = newid()\n"                                                                \
	"    redis.call('SET', C(nid), piece)\n"                                                   \
	"    list[#list + 1] = nid\n"                                                              \
	"    pos = pos + #piece\n"                                                                 \
	"  end\n"                                                                                  \
	"  redis.call('HSET', k, 'size', string.format('%d', size + n),\n"                         \
	"             'chunks', table.concat(list, ' '), 'mtime', mtime, 'ctime', NOW)\n"          \
	"  redis.call('HINCRBY', k, 'ver', 1)\n"                                                   \
	"  pub('I', ino)\n"                                                                        \
	"  return nil\n"                                                                           \
	"end\n"

/* ARGV[4] = format version.  Returns 0 (site ready), 1 (empty site initialised), 2 (format
 * found but the root was missing and has been re-created: the data was lost), or -EPROTO. */
static const char lua_init[] = LUA_PRELUDE
	"local fmt = redis.call('GET', P .. 'format')\n"
	"if fmt and fmt ~= ARGV[4] then return EPROTO end\n"
	"local made = 0\n"
	"if not fmt then\n"
	"  if redis.call('EXISTS', P .. 'next') == 1 then return EPROTO end\n"
	"  redis.call('SET', P .. 'format', ARGV[4])\n"
	"  redis.call('SET', P .. 'next', '1')\n"
	"  made = 1\n"
	"end\n"
	"if redis.call('EXISTS', D('1')) == 0 then\n"
	"  if made == 0 then made = 2 end\n"
	"  redis.call('HSET', I('1'), 'type', 'd', 'mode', '40755', 'uid', '0', 'gid', '0',\n"
	"             'size', '0', 'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', 's',\n"
	"             'opaque', '0')\n"
	"  redis.call('HDEL', I('1'), 'unlinked')\n"
	"  redis.call('PERSIST', I('1'))\n"
	"  redis.call('HSET', D('1'), '.', '')\n"
	"end\n"
	"return made\n";

/* ARGV[4] = dir, ARGV[5] = name.  Returns 0 for a whiteout, {ino, field, value, ...} for an
 * entry, -ENOENT, or -ESTALE when the directory itself is gone. */
static const char lua_lookup[] = LUA_PRELUDE
	"local v = redis.call('HGET', D(ARGV[4]), ARGV[5])\n"
	"if not v then\n"
	"  if redis.call('EXISTS', D(ARGV[4])) == 0 then return ESTALE end\n"
	"  return ENOENT\n"
	"end\n"
	"if v == 'w' then return 0 end\n"
	"local t, ino = string.sub(v, 1, 1), string.sub(v, 2)\n"
	"local r = redis.call('HGETALL', I(ino))\n"
	"local ok = false\n"
	"for i = 1, #r, 2 do\n"
	"  if r[i] == 'type' then ok = r[i + 1] == t end\n"
	"end\n"
	"if not ok then return EIO end  -- a dangling or damaged entry\n"
	"table.insert(r, 1, ino)\n"
	"return r\n";

/* ARGV[4] = "/a/b".  Returns the directory's ino (a string), or 0. */
static const char lua_resolve[] = LUA_PRELUDE
	"local ino = '1'\n"
	"for name in string.gmatch(ARGV[4], '[^/]+') do\n"
	"  local t, i = entry(ino, name)\n"
	"  if t ~= 'd' then return 0 end\n"
	"  ino = i\n"
	"end\n"
	"if redis.call('EXISTS', D(ino)) == 0 then return 0 end\n"
	"return ino\n";

/* ARGV[4] = dir, 5 = name, 6 = type (f/d/l), 7 = mode (octal), 8 = uid, 9 = gid, 10 = cls,
 * 11 = symlink target.  Returns {ino, field, value, ...}. */
static const char lua_create[] = LUA_PRELUDE
	"local dir, name, t = ARGV[4], ARGV[5], ARGV[6]\n"
	"if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end\n"
	"local old = redis.call('HGET', D(dir), name)\n"
	"if old and old ~= 'w' then return EEXIST end\n"
	"local ino = newid()\n"
	"local h = {'type', t, 'mode', ARGV[7], 'uid', ARGV[8], 'gid', ARGV[9], 'size', '0',\n"
	"           'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', ARGV[10]}\n"
	"if t == 'f' then\n"
	"  h[#h + 1] = 'chunks'; h[#h + 1] = ''\n"
	"elseif t == 'l' then\n"
	"  h[10] = tostring(#ARGV[11])\n"
	"  h[#h + 1] = 'target'; h[#h + 1] = ARGV[11]\n"
	"else\n"
	"  h[#h + 1] = 'opaque'; h[#h + 1] = old and '1' or '0'\n"
	"  redis.call('HSET', D(ino), '.', '')\n"
	"end\n"
	"redis.call('HSET', I(ino), unpack(h))\n"
	"redis.call('HSET', D(dir), name, t .. ino)\n"
	"touch(dir)\n"
	"pub('E', dir, name)\n"
	"return reply(ino)\n";

/* ARGV[4] = dir, 5 = name, 6 = mode (octal), 7 = uid, 8 = gid, 9 = mtime.  Returns the ino of
 * the (possibly new) directory, as a string. */
static const char lua_copyup_dir[] = LUA_PRELUDE
	"local dir, name = ARGV[4], ARGV[5]\n"
	"if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end\n"
	"local t, i = entry(dir, name)\n"
	"if t == 'd' then return i end\n"
	"if t then return EEXIST end\n"
	"local ino = newid()\n"
	"redis.call('HSET', I(ino), 'type', 'd', 'mode', ARGV[6], 'uid', ARGV[7], 'gid', ARGV[8],\n"
	"           'size', '0', 'mtime', ARGV[9], 'ctime', NOW, 'ver', '1', 'cls', 's',\n"
	"           'opaque', '0')\n"
	"redis.call('HSET', D(ino), '.', '')\n"
	"redis.call('HSET', D(dir), name, 'd' .. ino)\n"
	"pub('E', dir, name)\n"
	"return ino\n";

/* ARGV[4] = dir, 5 = name, 6 = mode (octal), 7 = uid, 8 = gid, 9 = cls, 10 = size,
 * 11 = chunk list, 12 = '1' to merge: when a file already has the name (another node created
 * it since), the new file's data is appended to that file instead of replacing it.  Returns
 * {ino, field, value, ...}. */
static const char lua_publish_new[] = LUA_PRELUDE LUA_APPEND_TO
	"local dir, name, size = ARGV[4], ARGV[5], tonumber(ARGV[10])\n"
	"local mc = ARGV[9] == 'c'\n"
	"if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end\n"
	"local list = ids(ARGV[11])\n"
	"local err = check_new(list, {}, size, mc)\n"
	"if err then return err end\n"
	"local t, old = entry(dir, name)\n"
	"if t == 'd' then return EISDIR end\n"
	"if t == 'f' and ARGV[12] == '1' and not mc then\n"
	"  local parts = {}\n"
	"  for i, id in ipairs(list) do\n"
	"    local want = math.min(CH, size - (i - 1) * CH)\n"
	"    local p = ''\n"
	"    if id ~= '0' then p = redis.call('GETRANGE', C(id), 0, want - 1) end\n"
	"    if #p < want then p = p .. string.rep(string.char(0), want - #p) end\n"
	"    parts[i] = p\n"
	"  end\n"
	"  local data = table.concat(parts)\n"
	"  if #data < size then data = data .. string.rep(string.char(0), size - #data) end\n"
	"  err = append_to(old, data, NOW)\n"
	"  if err then return err end\n"
	"  for _, id in ipairs(list) do\n"
	"    if id ~= '0' then redis.call('DEL', C(id)) end\n"
	"  end\n"
	"  return reply(old)\n"
	"end\n"
	"if t and t ~= 'w' then orphan(old) end\n"
	"local ino = newid()\n"
	"persist(list, mc)\n"
	"redis.call('HSET', I(ino), 'type', 'f', 'mode', ARGV[6], 'uid', ARGV[7], 'gid', ARGV[8],\n"
	"           'size', ARGV[10], 'mtime', NOW, 'ctime', NOW, 'ver', '1', 'cls', ARGV[9],\n"
	"           'chunks', table.concat(list, ' '))\n"
	"redis.call('HSET', D(dir), name, 'f' .. ino)\n"
	"touch(dir)\n"
	"pub('E', dir, name)\n"
	"return reply(ino)\n";

/* ARGV[4] = ino, 5 = size, 6 = chunk list, 7 = mtime.  Returns {ino, field, value, ...}. */
static const char lua_commit[] = LUA_PRELUDE
	"local ino = ARGV[4]\n"
	"local k = I(ino)\n"
	"local h = hash(k)\n"
	"if not h.type or h.unlinked then return ENOENT end\n"
	"if h.type == 'd' then return EISDIR end\n"
	"if h.type ~= 'f' then return EINVAL end\n"
	"local list, old = ids(ARGV[6]), ids(h.chunks)\n"
	"local size, cur = tonumber(ARGV[5]), tonumber(h.size)\n"
	"local mc = h.cls == 'c'\n"
	"local err = check_new(list, set(old), size, mc)\n"
	"if err then return err end\n"
	"persist(list, mc)\n"
	"local at = {}\n"
	"-- (memcached content is never kept across a commit: the writer uploads every chunk)\n"
	"if not mc then for i, id in ipairs(old) do at[id] = i - 1 end end\n"
	"for i, id in ipairs(list) do\n"
	"  if at[id] and id ~= '0' then\n"
	"    -- a kept chunk whose logical length grows must read as zeros past its old end:\n"
	"    -- if it holds stale bytes there (a truncation kept it), keep only its old part\n"
	"    local was = math.max(0, math.min(CH, cur - at[id] * CH))\n"
	"    local now = math.max(0, math.min(CH, size - (i - 1) * CH))\n"
	"    if now > was and redis.call('STRLEN', C(id)) > was then\n"
	"      local nid = newid()\n"
	"      local head = ''\n"
	"      if was > 0 then head = redis.call('GETRANGE', C(id), 0, was - 1) end\n"
	"      redis.call('SET', C(nid), head)\n"
	"      list[i] = nid\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local keep = set(list)\n"
	"for _, id in ipairs(old) do\n"
	"  if id ~= '0' and not keep[id] then redis.call('PEXPIRE', C(id), GRACE) end\n"
	"end\n"
	"redis.call('HSET', k, 'size', ARGV[5], 'chunks', table.concat(list, ' '),\n"
	"           'mtime', ARGV[7], 'ctime', NOW)\n"
	"redis.call('HINCRBY', k, 'ver', 1)\n"
	"pub('I', ino)\n"
	"return reply(ino)\n";

/* ARGV[4] = dir, 5 = name, 6 = ino, 7 = version, 8 = '1' to leave a whiteout.  A cache-class
 * file whose content memcached no longer has: NAME is removed only if it is still that very
 * version of that inode (a newer one written meanwhile stays).  The message's origin is
 * empty, so the node that noticed forgets the name too.  Returns 1 if removed, else 0. */
static const char lua_drop_cache[] = LUA_PRELUDE
	"local dir, name, ino = ARGV[4], ARGV[5], ARGV[6]\n"
	"local t, cur = entry(dir, name)\n"
	"if t ~= 'f' or cur ~= ino then return 0 end\n"
	"local h = hash(I(ino))\n"
	"if h.cls ~= 'c' or h.ver ~= ARGV[7] then return 0 end\n"
	"orphan(ino)\n"
	"if ARGV[8] == '1' then\n"
	"  redis.call('HSET', D(dir), name, 'w')\n"
	"else\n"
	"  redis.call('HDEL', D(dir), name)\n"
	"end\n"
	"touch(dir)\n"
	"NODE = ''\n"
	"pub('E', dir, name)\n"
	"return 1\n";

/* ARGV[4] = ino, 5 = data, 6 = mtime.  Appends at the current end.  Returns
 * {ino, field, value, ...}. */
static const char lua_append[] = LUA_PRELUDE LUA_APPEND_TO
	"local err = append_to(ARGV[4], ARGV[5], ARGV[6])\n"
	"if err then return err end\n"
	"return reply(ARGV[4])\n";

/* ARGV[4] = ino, 5 = permission bits as 4 octal digits, 6 = uid, 7 = gid, 8 = mtime; an
 * empty string leaves that attribute alone.  Returns {ino, field, value, ...}. */
static const char lua_setattr[] = LUA_PRELUDE
	"local ino = ARGV[4]\n"
	"local k = I(ino)\n"
	"local h = hash(k)\n"
	"if not h.type or h.unlinked then return ENOENT end\n"
	"local pre = ({f = '10', d = '4', l = '12'})[h.type]\n"
	"if not pre then return EIO end\n"
	"if ARGV[5] ~= '' then redis.call('HSET', k, 'mode', pre .. ARGV[5]) end\n"
	"if ARGV[6] ~= '' then redis.call('HSET', k, 'uid', ARGV[6]) end\n"
	"if ARGV[7] ~= '' then redis.call('HSET', k, 'gid', ARGV[7]) end\n"
	"if ARGV[8] ~= '' then redis.call('HSET', k, 'mtime', ARGV[8]) end\n"
	"redis.call('HSET', k, 'ctime', NOW)\n"
	"redis.call('HINCRBY', k, 'ver', 1)\n"
	"pub('I', ino)\n"
	"return reply(ino)\n";

/* ARGV[4] = dir, 5 = name, 6 = '1' to leave a whiteout, 7 = 'd' for rmdir, 'f' for unlink.
 * With a whiteout asked for and no entry at all, the whiteout alone is written (a lower
 * entry being deleted).  Returns 0. */
static const char lua_remove[] = LUA_PRELUDE
	"local dir, name, wh, want = ARGV[4], ARGV[5], ARGV[6] == '1', ARGV[7]\n"
	"if redis.call('EXISTS', D(dir)) == 0 then return ENOENT end\n"
	"local t, ino = entry(dir, name)\n"
	"if t == 'w' then return ENOENT end\n"
	"if t then\n"
	"  if want == 'd' then\n"
	"    if t ~= 'd' then return ENOTDIR end\n"
	"    if not only_whiteouts(ino) then return ENOTEMPTY end\n"
	"  elseif t == 'd' then\n"
	"    return EISDIR\n"
	"  end\n"
	"elseif not wh then\n"
	"  return ENOENT\n"
	"end\n"
	"if t then orphan(ino) end\n"
	"if wh then redis.call('HSET', D(dir), name, 'w') else redis.call('HDEL', D(dir), name) end\n"
	"touch(dir)\n"
	"pub('E', dir, name)\n"
	"return 0\n";

/* ARGV[4] = sdir, 5 = sname, 6 = ddir, 7 = dname, 8 = noreplace, 9 = whiteout, 10 = opaque
 * ('1' or '0').  Returns 0. */
static const char lua_rename[] = LUA_PRELUDE
	"local sdir, sname, ddir, dname = ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
	"if redis.call('EXISTS', D(sdir)) == 0 or redis.call('EXISTS', D(ddir)) == 0 then\n"
	"  return ENOENT\n"
	"end\n"
	"local sv = redis.call('HGET', D(sdir), sname)\n"
	"if not sv or sv == 'w' then return ENOENT end\n"
	"local st, sino = string.sub(sv, 1, 1), string.sub(sv, 2)\n"
	"if sdir == ddir and sname == dname then return 0 end\n"
	"local dt, dino = entry(ddir, dname)\n"
	"if dt and dt ~= 'w' then\n"
	"  if ARGV[8] == '1' then return EEXIST end\n"
	"  if dino == sino then return 0 end\n"
	"  if st == 'd' then\n"
	"    if dt ~= 'd' then return ENOTDIR end\n"
	"    if not only_whiteouts(dino) then return ENOTEMPTY end\n"
	"  elseif dt == 'd' then\n"
	"    return EISDIR\n"
	"  end\n"
	"  orphan(dino)\n"
	"end\n"
	"redis.call('HSET', D(ddir), dname, sv)\n"
	"if ARGV[9] == '1' then\n"
	"  redis.call('HSET', D(sdir), sname, 'w')\n"
	"else\n"
	"  redis.call('HDEL', D(sdir), sname)\n"
	"end\n"
	"if st == 'd' and ARGV[10] == '1' then redis.call('HSET', I(sino), 'opaque', '1') end\n"
	"redis.call('HSET', I(sino), 'ctime', NOW)\n"
	"redis.call('HINCRBY', I(sino), 'ver', 1)\n"
	"touch(sdir)\n"
	"if ddir ~= sdir then touch(ddir) end\n"
	"pub('E', sdir, sname)\n"
	"pub('E', ddir, dname)\n"
	"pub('I', sino)\n"
	"return 0\n";
/* clang-format on */

#endif
