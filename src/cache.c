/* cache.c — sparkgen.cache (being written; see docs/internals.md). */
#include <lua.h>
#include <lauxlib.h>
#include "sparkgen.h"

int luaopen_sparkgen_cache(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
