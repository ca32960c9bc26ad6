/*
 * sparkgen.h — the narrow interface between the C host (main.c) and the primitives.
 * Each primitive is one C file exporting one luaopen_sparkgen_<name>; main.c registers
 * them in package.preload. Nothing else in C knows about the lua_State's contents.
 */
#ifndef SPARKGEN_H
#define SPARKGEN_H

#include <lua.h>

#define SPARKGEN_VERSION "0.1.0"

int luaopen_sparkgen_sys(lua_State *L);
int luaopen_sparkgen_pg(lua_State *L);
int luaopen_sparkgen_http(lua_State *L);
int luaopen_sparkgen_cache(lua_State *L);
int luaopen_sparkgen_proc(lua_State *L);
int luaopen_sparkgen_digest(lua_State *L);

#endif
