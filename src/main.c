/*
 * main.c — the only file that owns the lua_State.
 *
 * It opens the standard libraries, registers the C primitives and the built-in Lua
 * modules (compiled into the binary at build time: build/<variant>/embedded.c, see
 * tools/luaembed.c) in package.preload, finds the built-in Lua tree (the source tree next to the binary, $SPARKGEN_HOME, or
 * the installed share/sparkgen), and hands argv to the Lua engine
 * (`require("sparkgen.main").main{...}`). The exit status is whatever the engine
 * returns. Every call into Lua goes through a message handler that appends a traceback,
 * so an unexpected error in the engine is reported, never a silent crash.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "sparkgen.h"

#ifndef SPARKGEN_DATADIR
#define SPARKGEN_DATADIR "/usr/local/share/sparkgen"
#endif
#ifndef SPARKGEN_LIBDIR
#define SPARKGEN_LIBDIR "/usr/local/lib/sparkgen"
#endif

/* Primitives linked into the binary: small, no libraries beyond libc. */
static const luaL_Reg primitives[] = {
    {"sparkgen.sys", luaopen_sparkgen_sys},
    {"sparkgen.cache", luaopen_sparkgen_cache},
    {"sparkgen.proc", luaopen_sparkgen_proc},
    {"sparkgen.sandbox_core", luaopen_sparkgen_sandbox_core},
    {"sparkgen.json", luaopen_sparkgen_json},
    {NULL, NULL},
};

/* Primitives that need libraries (libpq, libcurl, nettle, libsqlite3) are shared objects,
 * opened on first require. Mapping those libraries and their ~30 dependencies costs
 * about 4 ms, more than the rest of a cached `sparkgen schema TABLE`; most commands
 * need one of them or none. */
static const struct {
    const char *name, *file, *symbol;
} lazy_primitives[] = {
    {"sparkgen.pg", "sparkgen_pg.so", "luaopen_sparkgen_pg"},
    {"sparkgen.http", "sparkgen_http.so", "luaopen_sparkgen_http"},
    {"sparkgen.digest", "sparkgen_digest.so", "luaopen_sparkgen_digest"},
    {"sparkgen.sqlite", "sparkgen_sqlite.so", "luaopen_sparkgen_sqlite"},
};

static char module_dir[PATH_MAX];

static int at_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "sparkgen: fatal: unprotected Lua error: %s\n", msg ? msg : "(no message)");
    return 0; /* Lua then aborts */
}

/* Message handler (as in lua.c): turn any error into a string with a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The built-in tree: $SPARKGEN_HOME, else the directory of the executable when it holds
 * lua/sparkgen/main.lua (running from the source tree), else the install location. */
static void find_root(char *out, size_t size)
{
    char probe[PATH_MAX + 64];
    const char *home = getenv("SPARKGEN_HOME");
    if (home && *home) {
        snprintf(out, size, "%s", home);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(probe, sizeof probe, "%s/lua/sparkgen/main.lua", exe);
            if (is_file(probe)) {
                snprintf(out, size, "%s", exe);
                return;
            }
        }
    }
    snprintf(out, size, "%s", SPARKGEN_DATADIR);
}

static int is_dir_with(const char *dir, const char *file)
{
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/%s", dir, file);
    return is_file(probe);
}

/* Where the lazy primitives live: $SPARKGEN_MODULE_DIR, else `modules/` next to the
 * binary (a build directory), else the source tree's release build, else the install
 * location. */
static void find_module_dir(char *out, size_t size)
{
    const char *env = getenv("SPARKGEN_MODULE_DIR");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return;
    }
    static const char *const candidates[] = {"%s/modules", "%s/build/release/modules"};
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
            int len = snprintf(out, size, candidates[i], exe);
            if (len > 0 && (size_t)len < size && is_dir_with(out, lazy_primitives[0].file))
                return;
        }
    }
    snprintf(out, size, "%s", SPARKGEN_LIBDIR);
}

/* package.preload loader of a lazy primitive; upvalue 1 is its index. */
static int load_lazy_primitive(lua_State *L)
{
    int i = (int)lua_tointeger(L, lua_upvalueindex(1));
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", module_dir, lazy_primitives[i].file);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL)
        return luaL_error(L, "cannot load the %s primitive: %s", lazy_primitives[i].name, dlerror());
    lua_CFunction open;
    *(void **)(&open) = dlsym(handle, lazy_primitives[i].symbol); /* POSIX's idiom for function pointers */
    if (open == NULL)
        return luaL_error(L, "%s has no %s", path, lazy_primitives[i].symbol);
    lua_settop(L, 0);
    return open(L); /* the library stays loaded for the life of the process */
}

/* package.preload loader of a built-in Lua module; upvalue 1 is its index. The chunk
 * was dumped by this build's own liblua, so it is trusted like the rest of the binary.
 * Called as require does: loader(name, extra) -> the module's value. */
static int load_embedded(lua_State *L)
{
    const sparkgen_module *m = &sparkgen_modules[lua_tointeger(L, lua_upvalueindex(1))];
    lua_pushfstring(L, "@%s", m->path);
    if (luaL_loadbufferx(L, (const char *)m->code, m->size, lua_tostring(L, -1), "b") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_pushstring(L, m->path);
    lua_call(L, 2, 1);
    return 1;
}

static void register_primitives(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *p = primitives; p->name; p++) {
        lua_pushcfunction(L, p->func);
        lua_setfield(L, -2, p->name);
    }
    for (size_t i = 0; i < sizeof lazy_primitives / sizeof lazy_primitives[0]; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, load_lazy_primitive, 1);
        lua_setfield(L, -2, lazy_primitives[i].name);
    }
    for (lua_Integer i = 0; sparkgen_modules[i].name; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, sparkgen_modules[i].name);
    }
    lua_pop(L, 1);
}

/* package.path: the engine's own tree first, then the system's (argparse, penlight,
 * busted, cjson stay where Debian installed them). */
static void set_package_path(lua_State *L, const char *root)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    const char *sys_path = lua_tostring(L, -1);
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", root, root, sys_path ? sys_path : "");
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* Protected part of main: load the engine, call main{argv=..., root=..., version=...}. */
static int run_engine(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    const char *root = lua_tostring(L, 3);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "sparkgen.main");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "sparkgen.main does not export main()");

    lua_createtable(L, 0, 4);
    lua_createtable(L, argc, 0);
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "argv");
    lua_pushstring(L, argv[0]);
    lua_setfield(L, -2, "program");
    lua_pushstring(L, root);
    lua_setfield(L, -2, "root");
    lua_pushliteral(L, SPARKGEN_VERSION);
    lua_setfield(L, -2, "version");
    lua_call(L, 1, 1);
    return 1;
}

int main(int argc, char **argv)
{
    static char root[PATH_MAX];
    find_root(root, sizeof root);
    find_module_dir(module_dir, sizeof module_dir);

    /* The counting allocator lets the sandbox bound the memory of user code. */
    static struct sparkgen_alloc alloc_state;
    lua_State *L = lua_newstate(sparkgen_alloc, &alloc_state);
    if (L == NULL) {
        fprintf(stderr, "sparkgen: cannot create Lua state: out of memory\n");
        return 1;
    }
    lua_atpanic(L, at_panic);
    luaL_openlibs(L);
    register_primitives(L);
    set_package_path(L, root);

    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, run_engine);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    lua_pushstring(L, root);
    int status = 1;
    if (lua_pcall(L, 3, 1, 1) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "sparkgen: internal error: %s\n", msg ? msg : "(no message)");
        fprintf(stderr, "sparkgen: this is a bug; please report it with the command you ran\n");
        status = 70; /* EX_SOFTWARE */
    } else if (lua_isinteger(L, -1)) {
        status = (int)lua_tointeger(L, -1);
    } else if (lua_isboolean(L, -1)) {
        status = lua_toboolean(L, -1) ? 0 : 1;
    } else if (lua_isnil(L, -1)) {
        status = 0;
    }
    lua_close(L);
    /* Output that did not reach its destination (a full disk, /dev/full, a closed
     * descriptor) is a failure, never a silent exit 0: the one place every write to
     * stdout is checked, since stdio remembers the error. */
    int out_err = fflush(stdout) != 0 ? errno : ferror(stdout) ? EIO : 0;
    if (out_err) {
        fprintf(stderr, "sparkgen: cannot write to standard output: %s\n", strerror(out_err));
        if (status == 0)
            status = 1;
    }
    return status;
}
