/*
 * sparkgen.h — the narrow interface between the C host (main.c) and the primitives.
 * Each primitive is one C file exporting one luaopen_sparkgen_<name>; main.c registers
 * them in package.preload. Nothing else in C knows about the lua_State's contents.
 */
#ifndef SPARKGEN_H
#define SPARKGEN_H

#include <stddef.h>

#include <lua.h>

#define SPARKGEN_VERSION "0.1.0"

int luaopen_sparkgen_sys(lua_State *L);
int luaopen_sparkgen_pg(lua_State *L);
int luaopen_sparkgen_http(lua_State *L);
int luaopen_sparkgen_cache(lua_State *L);
int luaopen_sparkgen_proc(lua_State *L);
int luaopen_sparkgen_digest(lua_State *L);
int luaopen_sparkgen_sqlite(lua_State *L);
int luaopen_sparkgen_sandbox_core(lua_State *L);
int luaopen_sparkgen_json(lua_State *L);

/* The host's lua_Alloc (sandbox.c): counts the bytes the state holds and, while a
 * sandboxed call runs, refuses growth past `hard` (`soft` marks the budget spent).
 * main.c creates the state with lua_newstate(sparkgen_alloc, &a) where `a` starts
 * zeroed: no limit outside sandboxed calls. */
#include <stddef.h>
struct sparkgen_alloc {
    size_t used, soft, hard;
    int over;
};
void *sparkgen_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* The built-in Lua modules, compiled at build time (tools/luaembed.c writes
 * build/<variant>/embedded.c); main.c registers them in package.preload. The list ends
 * with an entry whose name is NULL. */
typedef struct {
    const char *name;             /* module name: "sparkgen.cli" */
    const char *path;             /* the source it was compiled from: chunk name "@path" */
    const unsigned char *code;    /* lua_dump output, debug information kept */
    size_t size;
} sparkgen_module;

extern const sparkgen_module sparkgen_modules[];

/* A zeroed userdata of `size` bytes whose __gc is `release` (metatable `name`), pushed:
 * how a primitive holds C resources (descriptors, libpq memory) while it builds Lua
 * values, so an out-of-memory error unwinding past it leaks nothing. In sys.c. */
void *sparkgen_box(lua_State *L, size_t size, const char *name, lua_CFunction release);

#endif
