/*
 * sys.c — sparkgen.sys: the small POSIX helpers the engine needs and plain Lua lacks.
 *
 * @function setenv(name, value|nil)   set (or unset) a variable for child processes;
 *                                      how credentials reach spark-submit without argv
 * @function isatty(fd)                 true when fd (0, 1, 2) is a terminal
 * @function now()                      wall-clock seconds since the epoch (float)
 * @function monotonic()                monotonic seconds (float), for durations
 * @function sleep(seconds)
 * @function getpid()
 * @function mkdir_p(path)              true, or nil, message
 * @function stat(path)                 {type=, size=, mtime=} or nil, message
 * @function listdir(path)              sorted names (no . and ..), or nil, message
 * @function rename(from, to)           atomic within a file system; true or nil, message
 * @function realpath(path)             absolute path or nil, message
 * @function rss_peak_kb()              peak resident set size of this process
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"

static int fail_errno(lua_State *L, const char *what)
{
    int err = errno;
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", what, strerror(err));
    lua_pushinteger(L, err);
    return 3;
}

static int l_sys_setenv(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int rc = lua_isnoneornil(L, 2) ? unsetenv(name) : setenv(name, luaL_checkstring(L, 2), 1);
    if (rc != 0)
        return fail_errno(L, name);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sys_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int l_sys_now(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
    return 1;
}

static int l_sys_monotonic(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_MONOTONIC));
    return 1;
}

static int l_sys_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    if (s > 0) {
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    return 0;
}

static int l_sys_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

static int l_sys_mkdir_p(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    if (len == 0 || len >= PATH_MAX)
        return luaL_argerror(L, 1, "path is empty or too long");
    char buf[PATH_MAX];
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return fail_errno(L, buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return fail_errno(L, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sys_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0)
        return fail_errno(L, path);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9);
    lua_setfield(L, -2, "mtime");
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int l_sys_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return fail_errno(L, path);
    size_t count = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *ent;
    while (names && (ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (count == cap) {
            char **grown = realloc(names, (cap *= 2) * sizeof *names);
            if (grown == NULL)
                break;
            names = grown;
        }
        names[count] = strdup(ent->d_name);
        if (names[count])
            count++;
    }
    closedir(dir);
    if (names == NULL)
        return luaL_error(L, "out of memory listing %s", path);
    qsort(names, count, sizeof *names, compare_names);
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
        free(names[i]);
    }
    free(names);
    return 1;
}

static int l_sys_rename(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1);
    const char *to = luaL_checkstring(L, 2);
    if (rename(from, to) != 0)
        return fail_errno(L, to);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sys_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char buf[PATH_MAX];
    if (realpath(path, buf) == NULL)
        return fail_errno(L, path);
    lua_pushstring(L, buf);
    return 1;
}

static int l_sys_rss_peak_kb(lua_State *L)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushinteger(L, (lua_Integer)ru.ru_maxrss);
    return 1;
}

static const luaL_Reg sys_functions[] = {
    {"setenv", l_sys_setenv},   {"isatty", l_sys_isatty},   {"now", l_sys_now},
    {"monotonic", l_sys_monotonic}, {"sleep", l_sys_sleep}, {"getpid", l_sys_getpid},
    {"mkdir_p", l_sys_mkdir_p}, {"stat", l_sys_stat},       {"listdir", l_sys_listdir},
    {"rename", l_sys_rename},   {"realpath", l_sys_realpath},
    {"rss_peak_kb", l_sys_rss_peak_kb}, {NULL, NULL},
};

int luaopen_sparkgen_sys(lua_State *L)
{
    luaL_newlib(L, sys_functions);
    return 1;
}
