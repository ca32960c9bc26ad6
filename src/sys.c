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
 * @function lstat(path)                like stat, but a symbolic link is {type="link"}
 * @function read_file(path, max_bytes) the whole file, or nil, message. Only a regular
 *                                      file is read: a FIFO, device, socket or directory
 *                                      is refused without blocking (opened O_NONBLOCK,
 *                                      checked with fstat), and one larger than
 *                                      max_bytes is refused before anything is read
 * @function write_file(path, data)     atomically replaces path: a fresh temp file in
 *                                      the same directory (O_EXCL, mode 0644 less the
 *                                      umask), written, closed, renamed over path.
 *                                      true, or nil, message; a target that exists and is
 *                                      not a regular file (a symbolic link included) is
 *                                      refused and left alone
 * Numbers that reach C (sleep's seconds) are range-checked first: NaN, infinities and
 * values past the C type raise an argument error instead of undefined behaviour.
 * @function mkdtemp(prefix)            a new directory PREFIX-XXXXXX, mode 0700 (mkdtemp(3));
 *                                      path, or nil, message
 * @function write_private(path, data)  create a NEW file, mode 0600 (fails if the path exists,
 *                                      never follows a symlink); true or nil, message.
 *                                      How a job's credentials are handed over.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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
    /* time_t of a NaN, an infinity or 1e300 is undefined: a year is plenty. */
    luaL_argcheck(L, isfinite(s) && s <= 366.0 * 86400, 1, "seconds must be a finite number up to a year");
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

static const char *type_name(mode_t mode)
{
    return S_ISREG(mode) ? "file" : S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "link" : "other";
}

/* What a non-regular file is, for messages. */
static const char *kind_phrase(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : S_ISLNK(mode) ? "a symbolic link"
         : "not a regular file";
}

static int push_stat(lua_State *L, const char *path, int follow)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
        return fail_errno(L, path);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, type_name(st.st_mode));
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9);
    lua_setfield(L, -2, "mtime");
    return 1;
}

static int l_sys_stat(lua_State *L)
{
    return push_stat(L, luaL_checkstring(L, 1), 1);
}

static int l_sys_lstat(lua_State *L)
{
    return push_stat(L, luaL_checkstring(L, 1), 0);
}

static int fail_msg(lua_State *L, const char *path, const char *what)
{
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, what);
    return 2;
}

/* What a primitive holds while it may raise (out of memory while building a Lua value):
 * a userdata whose __gc releases it, so an error unwinding past the C code leaks
 * nothing. Each primitive releases the box itself on its normal paths. */
typedef struct {
    int fd;
    DIR *dir;
    char **names;
    size_t count;
} res_box;

static void box_release(res_box *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    if (b->dir)
        closedir(b->dir);
    b->dir = NULL;
    for (size_t i = 0; i < b->count; i++)
        free(b->names[i]);
    free(b->names);
    b->names = NULL;
    b->count = 0;
}

static int box_gc(lua_State *L)
{
    box_release(lua_touserdata(L, 1));
    return 0;
}

void *sparkgen_box(lua_State *L, size_t size, const char *name, lua_CFunction release)
{
    void *b = lua_newuserdatauv(L, size, 0);
    memset(b, 0, size);
    if (luaL_newmetatable(L, name)) {
        lua_pushcfunction(L, release);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static res_box *new_box(lua_State *L)
{
    res_box *b = sparkgen_box(L, sizeof *b, "sparkgen.sys.box", box_gc);
    b->fd = -1;
    return b;
}

static int l_sys_read_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max >= 0, 2, "max_bytes must be >= 0");
    res_box *box = new_box(L);
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    box->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (box->fd < 0)
        return fail_errno(L, path);
    struct stat st;
    if (fstat(box->fd, &st) != 0)
        return fail_errno(L, path);
    if (!S_ISREG(st.st_mode)) {
        box_release(box);
        return fail_msg(L, path, lua_pushfstring(L, "not a regular file (%s)", kind_phrase(st.st_mode)));
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        box_release(box);
        return fail_msg(L, path, lua_pushfstring(L, "too large (%I bytes; the limit is %I)",
                                                 (lua_Integer)st.st_size, max));
    }
    /* The size may change while we read: read at most max + 1 bytes and refuse more. */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t total = 0;
    for (;;) {
        size_t want = LUAL_BUFFERSIZE;
        if ((uint64_t)total + want > (uint64_t)max + 1)
            want = (size_t)((uint64_t)max + 1 - total);
        if (want == 0)
            break;
        char *p = luaL_prepbuffsize(&b, want);
        ssize_t r = read(box->fd, p, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail_errno(L, path);
        if (r == 0)
            break;
        luaL_addsize(&b, (size_t)r);
        total += (size_t)r;
    }
    box_release(box);
    if ((uint64_t)total > (uint64_t)max)
        return fail_msg(L, path, lua_pushfstring(L, "too large (it grew past the limit of %I bytes)", max));
    luaL_pushresult(&b);
    return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

static unsigned long write_counter;

static int l_sys_write_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return fail_msg(L, path, lua_pushfstring(L, "not replacing %s with a file", kind_phrase(st.st_mode)));
    const char *tmp = lua_pushfstring(L, "%s.tmp-%d-%d", path, (int)getpid(), (int)++write_counter);
    res_box *box = new_box(L);
    box->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (box->fd < 0)
        return fail_errno(L, path);
    int ok = write_all(box->fd, data, len);
    int err = errno;
    int fd = box->fd;
    box->fd = -1;
    if (close(fd) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        errno = err;
        return fail_errno(L, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int l_sys_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    res_box *box = new_box(L);
    box->dir = opendir(path);
    if (box->dir == NULL)
        return fail_errno(L, path);
    size_t cap = 16;
    box->names = malloc(cap * sizeof *box->names);
    if (box->names == NULL)
        return luaL_error(L, "out of memory listing %s", path);
    struct dirent *ent;
    for (;;) {
        errno = 0;
        if ((ent = readdir(box->dir)) == NULL)
            break;
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (box->count == cap) {
            char **grown = realloc(box->names, cap * 2 * sizeof *grown);
            if (grown == NULL)
                return luaL_error(L, "out of memory listing %s", path);
            box->names = grown;
            cap *= 2;
        }
        if ((box->names[box->count] = strdup(ent->d_name)) == NULL)
            return luaL_error(L, "out of memory listing %s", path);
        box->count++;
    }
    if (errno != 0) /* a partial list would look like a complete one */
        return fail_errno(L, path);
    qsort(box->names, box->count, sizeof *box->names, compare_names);
    lua_createtable(L, (int)box->count, 0);
    for (size_t i = 0; i < box->count; i++) {
        lua_pushstring(L, box->names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    box_release(box);
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

static int l_sys_mkdtemp(lua_State *L)
{
    size_t len;
    const char *prefix = luaL_checklstring(L, 1, &len);
    char buf[PATH_MAX];
    if (len == 0 || len + 8 >= sizeof buf)
        return luaL_argerror(L, 1, "prefix is empty or too long");
    memcpy(buf, prefix, len);
    memcpy(buf + len, "-XXXXXX", 8);
    if (mkdtemp(buf) == NULL)
        return fail_errno(L, prefix);
    lua_pushstring(L, buf);
    return 1;
}

static int l_sys_write_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno(L, path);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            unlink(path);
            errno = err;
            return fail_errno(L, path);
        }
        done += (size_t)n;
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(path);
        errno = err;
        return fail_errno(L, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg sys_functions[] = {
    {"setenv", l_sys_setenv},   {"isatty", l_sys_isatty},   {"now", l_sys_now},
    {"monotonic", l_sys_monotonic}, {"sleep", l_sys_sleep}, {"getpid", l_sys_getpid},
    {"mkdir_p", l_sys_mkdir_p}, {"stat", l_sys_stat},       {"listdir", l_sys_listdir},
    {"rename", l_sys_rename},   {"realpath", l_sys_realpath},
    {"rss_peak_kb", l_sys_rss_peak_kb}, {"lstat", l_sys_lstat}, {"read_file", l_sys_read_file},
    {"write_file", l_sys_write_file}, {"mkdtemp", l_sys_mkdtemp},
    {"write_private", l_sys_write_private}, {NULL, NULL},
};

int luaopen_sparkgen_sys(lua_State *L)
{
    luaL_newlib(L, sys_functions);
    return 1;
}
