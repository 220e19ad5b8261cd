/* scripts.c - the store's Lua scripts, one per metadata change (see store/lua.h). */
#include <string.h>

#include "store/internal.h"
#include "store/lua.h"

#define SCRIPT(id, n, t) [id] = {n, t, sizeof(t) - 1}
const struct script store_scripts[SC_COUNT] = {
    SCRIPT(SC_INIT, "init", lua_init),
    SCRIPT(SC_LOOKUP, "lookup", lua_lookup),
    SCRIPT(SC_RESOLVE, "resolve", lua_resolve),
    SCRIPT(SC_CREATE, "create", lua_create),
    SCRIPT(SC_COPYUP_DIR, "copyup_dir", lua_copyup_dir),
    SCRIPT(SC_PUBLISH_NEW, "publish_new", lua_publish_new),
    SCRIPT(SC_COMMIT, "commit", lua_commit),
    SCRIPT(SC_APPEND, "append", lua_append),
    SCRIPT(SC_SETATTR, "setattr", lua_setattr),
    SCRIPT(SC_REMOVE, "remove", lua_remove),
    SCRIPT(SC_RENAME, "rename", lua_rename),
    SCRIPT(SC_DROP_CACHE, "drop_cache", lua_drop_cache),
};
