/*
 * test_primitives.c — the C primitives seen from C: each luaopen_sparkgen_* called on a
 * bare lua_State, the way main.c registers them. Pins the C-level contract: known
 * SHA-256 vectors, expected failures returned (not raised), programmer errors raised,
 * closed handles refusing use, and no secret in an error message. Prints TAP.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "sparkgen.h"
#include "tap.h"

/* Run a chunk with sys/pg/http/cache/digest bound as locals; it returns one boolean. */
static int check(lua_State *L, const char *chunk)
{
    int nargs = load_chunk(L, "sys, pg, http, cache, digest", chunk);
    if (nargs < 0)
        return 0;
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        printf("# error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    int result = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return result;
}

int main(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    open_primitive(L, luaopen_sparkgen_sys, "sys");
    open_primitive(L, luaopen_sparkgen_pg, "pg");
    open_primitive(L, luaopen_sparkgen_http, "http");
    open_primitive(L, luaopen_sparkgen_cache, "cache");
    open_primitive(L, luaopen_sparkgen_digest, "digest");

    char dir[] = "/tmp/sparkgen-ctest-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    lua_pushstring(L, dir);
    lua_setglobal(L, "DIR");

    ok(check(L, "return digest.sha256('') == "
                "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'"),
       "digest.sha256 of the empty string matches the FIPS 180-2 vector");
    ok(check(L, "return digest.sha256('abc') == "
                "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'"),
       "digest.sha256('abc') matches the FIPS 180-2 vector");
    ok(check(L, "local ok, err = sys.mkdir_p(DIR .. '/a/b/c'); "
                "return ok == true and sys.stat(DIR .. '/a/b/c').type == 'dir'"),
       "sys.mkdir_p creates nested directories");
    ok(check(L, "local v, err = sys.stat(DIR .. '/missing'); "
                "return v == nil and err:find('No such file', 1, true) ~= nil"),
       "sys.stat of a missing path returns nil and the reason");
    ok(check(L, "for _, n in ipairs{'b', 'a', 'c'} do io.open(DIR .. '/a/' .. n .. '.txt', 'w'):close() end; "
                "local l = sys.listdir(DIR .. '/a'); return table.concat(l, ',') == 'a.txt,b,b.txt,c.txt'"),
       "sys.listdir returns sorted names without . and ..");

    ok(check(L, "local c = cache.open{dir = DIR .. '/cache'}; local k = string.rep('a', 64); "
                "c:put(k, 'value', 60); local v, meta = c:get(k); c:close(); return v == 'value'"),
       "cache put then get returns the value");
    ok(check(L, "local c = cache.open{dir = DIR .. '/cache'}; "
                "local ok = pcall(c.get, c, 'not-a-key'); c:close(); return not ok"),
       "cache get with a malformed key raises (a programmer error)");
    ok(check(L, "local c = cache.open{dir = DIR .. '/cache'}; c:close(); "
                "local ok = pcall(c.get, c, string.rep('a', 64)); return not ok"),
       "a closed cache handle raises on use");
    ok(check(L, "local ok = pcall(cache.open); return not ok"),
       "cache.open without options raises");

    ok(check(L, "local c, err = pg.connect('host=/nonexistent-socket-dir dbname=x user=u password=s3cr3t-pw "
                "connect_timeout=2'); return c == nil and type(err) == 'string' "
                "and not err:find('s3cr3t', 1, true) and err:find('/nonexistent-socket-dir', 1, true) ~= nil"),
       "pg.connect to a missing server returns nil and a message naming the host, without the password");

    ok(check(L, "local a = http.request{method = 'GET', url = 'http://127.0.0.1:1/', retries = 0, "
                "connect_timeout_s = 2, timeout_s = 2}; return a.status == nil and type(a.error) == 'string'"),
       "http.request to a closed port returns an answer with an error instead of raising");
    ok(check(L, "local ok = pcall(http.request, {method = 'GET'}); return not ok"),
       "http.request without a url raises (a programmer error)");

    return finish(L, dir);
}
