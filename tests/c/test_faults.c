/*
 * test_faults.c — the primitives when memory runs out: a lua_State whose allocator
 * refuses to grow past a limit, so Lua raises "not enough memory" in the middle of a
 * primitive. Pins that nothing leaks when that happens (descriptors, directory handles,
 * libpq results: ASan's leak checker sees the memory ones under `make test SANITIZE=1`),
 * that a listing never comes back short, that the garbage collector is running again
 * afterwards and that a PostgreSQL connection is still usable. Prints TAP.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "sparkgen.h"
#include "tap.h"

static size_t used = 0, limit = (size_t)-1;

/* The standard allocator with a ceiling on what is in use. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        used -= old;
        return NULL;
    }
    if (nsize > old && used + (nsize - old) > limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        used = used - old + nsize;
    return p;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Runs chunk with sys, cache, pg bound; `headroom` bytes past what is in use when it
 * starts may be allocated (0 = no limit). Returns the chunk's boolean, or -1 when it
 * raised (the message goes to *err, copied). */
static int run(lua_State *L, const char *chunk, size_t headroom, char *err, size_t errsize)
{
    int nargs = load_chunk(L, "sys, cache, pg", chunk);
    if (nargs < 0)
        return 0;
    lua_gc(L, LUA_GCCOLLECT);
    limit = headroom ? used + headroom : (size_t)-1;
    int rc = lua_pcall(L, nargs, 1, 0);
    limit = (size_t)-1;
    int result;
    if (rc != LUA_OK) {
        snprintf(err, errsize, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        result = -1;
    } else {
        result = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
    return result;
}

/* conninfo of the suite's throwaway cluster (tests/lib/pg.sh), or NULL. */
static char *test_database(char *buf, size_t size)
{
    if (getenv("TEST_TMP") == NULL || system("tests/lib/pg.sh available >/dev/null 2>&1") != 0)
        return NULL;
    FILE *p = popen("tests/lib/pg.sh db awkward tests/sql/awkward.sql 2>/dev/null", "r");
    if (p == NULL)
        return NULL;
    char *line = fgets(buf, (int)size, p);
    int status = pclose(p);
    if (line == NULL || status != 0)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

int main(void)
{
    lua_State *L = lua_newstate(limited_alloc, NULL);
    luaL_openlibs(L);
    open_primitive(L, luaopen_sparkgen_sys, "sys");
    open_primitive(L, luaopen_sparkgen_cache, "cache");
    open_primitive(L, luaopen_sparkgen_pg, "pg");

    char dir[] = "/tmp/sparkgen-faults-XXXXXX", err[512];
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    lua_pushstring(L, dir);
    lua_setglobal(L, "DIR");

    /* A 2 MiB entry, then a get with only 1 MiB to spare. */
    run(L, "local c = cache.open{dir = DIR .. '/c', lru_entries = 0}; "
           "return c:put(string.rep('a', 64), string.rep('x', 2 << 20))", 0, err, sizeof err);
    lua_pushnil(L);
    lua_setglobal(L, "STORE");
    run(L, "STORE = cache.open{dir = DIR .. '/c', lru_entries = 0}; return true", 0, err, sizeof err);
    int before = open_fds();
    int r = run(L, "return STORE:get(string.rep('a', 64)) ~= nil", 1 << 20, err, sizeof err);
    ok(r == -1 && strstr(err, "not enough memory") != NULL, "cache get raises when the value does not fit in memory");
    ok(open_fds() == before, "... and closes the entry's descriptor");
    ok(run(L, "local v = STORE:get(string.rep('a', 64)); return v and #v == 2 << 20", 0, err, sizeof err) == 1,
       "... and the entry is still there once memory is back");

    run(L, "local f = io.open(DIR .. '/big', 'wb'); f:write(string.rep('y', 2 << 20)); f:close(); return true",
        0, err, sizeof err);
    before = open_fds();
    r = run(L, "return sys.read_file(DIR .. '/big', 4 << 20) ~= nil", 1 << 20, err, sizeof err);
    ok(r == -1, "sys.read_file raises when the file does not fit in memory");
    ok(open_fds() == before, "... and closes the file");

    run(L, "sys.mkdir_p(DIR .. '/many'); for i = 1, 3000 do "
           "io.open(('%s/many/name-%05d-with-some-length'):format(DIR, i), 'w'):close() end; return true",
        0, err, sizeof err);
    before = open_fds();
    r = run(L, "local l = sys.listdir(DIR .. '/many'); return #l", 16 << 10, err, sizeof err);
    ok(r == -1, "sys.listdir raises when the list does not fit in memory, never returns it short");
    ok(open_fds() == before, "... and closes the directory");
    ok(run(L, "return #sys.listdir(DIR .. '/many') == 3000", 0, err, sizeof err) == 1,
       "... and lists every name once memory is back");

    /* pg.resolve and pg.identity build tables from libpq's parsed options: every
     * headroom below what they need must raise, never leak those (ASan's leak check). */
    int raised = 0, returned = 0;
    for (size_t headroom = 16; headroom <= 8192; headroom += 48) {
        r = run(L, "return pg.resolve('host=/tmp/x dbname=shop user=ann password=pw sslmode=disable').password == 'pw'",
                headroom, err, sizeof err);
        raised += r == -1;
        returned += r == 1;
        run(L, "return pg.identity('postgresql://u:%zz@h/db') == nil", headroom, err, sizeof err);
    }
    ok(raised > 0 && returned > 0, "pg.resolve raises when memory runs out and succeeds when there is enough");

    char conninfo[1024];
    if (test_database(conninfo, sizeof conninfo) == NULL) {
        skip("pg catalog under memory pressure", "no PostgreSQL server binaries");
    } else {
        lua_pushstring(L, conninfo);
        lua_setglobal(L, "CONNINFO");
        run(L, "CONN = assert(pg.connect(CONNINFO)); return true", 0, err, sizeof err);
        r = run(L, "return #CONN:catalog() > 0", 4 << 10, err, sizeof err);
        if (r != -1) printf("# catalog under pressure returned %d\n", r);
        ok(r == -1 && strstr(err, "not enough memory") != NULL, "pg catalog raises when the catalog does not fit in memory");
        ok(lua_gc(L, LUA_GCISRUNNING), "... and the garbage collector runs again");
        ok(run(L, "return #CONN:catalog() > 0 and CONN:check_read_only() == true", 0, err, sizeof err) == 1,
           "... and the connection reads the catalog again");
        r = run(L, "local fk = CONN:all_foreign_keys(); return #fk >= 0", 2 << 10, err, sizeof err);
        ok(r == -1, "pg all_foreign_keys raises when the keys do not fit in memory");
        ok(run(L, "return #CONN:all_foreign_keys() > 0", 0, err, sizeof err) == 1,
           "... and the connection works afterwards");
        run(L, "CONN:close(); CONN = nil; return true", 0, err, sizeof err);
    }

    run(L, "STORE:close(); STORE = nil; return true", 0, err, sizeof err);
    return finish(L, dir);
}
