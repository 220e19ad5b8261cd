/* scripts.c - the store's Lua scripts (fuse/store/lua/), embedded at build time: each is
 * keys.lua + prelude.lua + its own file, as obj/fuse/store/lua/NAME.lua.h made by xxd -i. */
#include "store/internal.h"

#include "append.lua.h"
#include "commit.lua.h"
#include "copyup_dir.lua.h"
#include "create.lua.h"
#include "drop_cache.lua.h"
#include "import.lua.h"
#include "init.lua.h"
#include "link.lua.h"
#include "lookup.lua.h"
#include "publish_new.lua.h"
#include "remove.lua.h"
#include "rename.lua.h"
#include "resolve.lua.h"
#include "setattr.lua.h"
#include "where.lua.h"

/* xxd's arrays end with the NUL the build appends: len leaves it out */
#define SCRIPT(id, n) [id] = {#n, (const char *)lua_##n, sizeof(lua_##n) - 1}
const struct script store_scripts[SC_COUNT] = {
    SCRIPT(SC_INIT, init),
    SCRIPT(SC_LOOKUP, lookup),
    SCRIPT(SC_RESOLVE, resolve),
    SCRIPT(SC_CREATE, create),
    SCRIPT(SC_COPYUP_DIR, copyup_dir),
    SCRIPT(SC_PUBLISH_NEW, publish_new),
    SCRIPT(SC_COMMIT, commit),
    SCRIPT(SC_APPEND, append),
    SCRIPT(SC_SETATTR, setattr),
    SCRIPT(SC_REMOVE, remove),
    SCRIPT(SC_RENAME, rename),
    SCRIPT(SC_DROP_CACHE, drop_cache),
    SCRIPT(SC_LINK, link),
    SCRIPT(SC_WHERE, where),
    SCRIPT(SC_IMPORT, import),
};
