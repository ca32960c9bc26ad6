/*
 * tap.h — what every C test shares: TAP output, opening a primitive the way main.c
 * does, and loading a chunk with the primitives bound to locals. Header-only: each
 * test is one program.
 */
#ifndef SPARKGEN_TEST_TAP_H
#define SPARKGEN_TEST_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

static int test_number = 0;
static int failures = 0;

static void ok(int cond, const char *what)
{
    test_number++;
    if (!cond)
        failures++;
    printf("%s %d - %s\n", cond ? "ok" : "not ok", test_number, what);
}

static void skip(const char *what, const char *why)
{
    test_number++;
    printf("ok %d - %s # SKIP %s\n", test_number, what, why);
}

/* Calls a luaopen_* and keeps the module in the registry as "test.<name>". */
static void open_primitive(lua_State *L, lua_CFunction open, const char *name)
{
    lua_pushfstring(L, "test.%s", name);
    lua_pushcfunction(L, open);
    lua_call(L, 0, 1);
    lua_settable(L, LUA_REGISTRYINDEX);
}

/* Pushes chunk as a function followed by the primitives named in `names` (a
 * comma-separated list, bound to locals of those names): returns the number of
 * arguments to lua_pcall, or -1 (reported) when the chunk does not compile. */
static int load_chunk(lua_State *L, const char *names, const char *chunk)
{
    char code[8192];
    snprintf(code, sizeof code, "local %s = ...\n%s", names, chunk);
    if (luaL_loadstring(L, code) != LUA_OK) {
        printf("# load error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int n = 0;
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, ", ");
        if (len > 0) {
            lua_pushfstring(L, "test.%s", lua_pushlstring(L, p, len));
            lua_remove(L, -2);
            lua_gettable(L, LUA_REGISTRYINDEX);
            n++;
        }
        p += len;
        p += strspn(p, ", ");
    }
    return n;
}

/* The end of a test program: removes its temporary directory, closes the state,
 * prints the plan; the exit status. */
static int finish(lua_State *L, const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    lua_close(L);
    printf("1..%d\n", test_number);
    return failures ? 1 : 0;
}

#endif
