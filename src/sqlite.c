/*
 * sqlite.c — sparkgen.sqlite: a thin binding to SQLite 3 (Debian's libsqlite3) for the
 * generation history. A separate module (loaded on first require, see main.c) so
 * commands that record nothing do not map the library. No policy here: the schema,
 * journal mode, transactions and retries are the caller's (lua/sparkgen/history.lua).
 *
 * Values cross as Lua types: nil <-> NULL, integer <-> INTEGER, float <-> REAL,
 * string <-> TEXT (any bytes, embedded NULs kept), boolean -> 0/1. Parameters are bound,
 * never spliced into SQL text.
 *
 * @function open(path, {busy_timeout_ms=, readonly=, checkpoint_on_close=}) -> db | nil, message
 *     The file is created unless readonly. busy_timeout_ms (default 0) is how long a
 *     statement waits for another connection's lock before failing with "busy".
 *     checkpoint_on_close = false keeps a WAL database's log when the last connection
 *     closes (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): closing costs no fsync, and a later
 *     commit checkpoints once the log passes its size limit.
 * Methods:
 *   db:exec(sql) -> true | nil, message            one or more statements, no results
 *   db:query(sql, ...) -> rows | nil, message      one statement; `...` are bound to
 *       ?1, ?2, ... (nil binds NULL); rows is a list of {column = value} tables
 *   db:changes() -> rows changed by the last INSERT/UPDATE/DELETE
 *   db:last_insert_rowid() -> integer
 *   db:close()   also __gc and __close; a closed db raises on use.
 * Errors name SQLite's message, and "busy" errors say so, e.g. "database is locked".
 *
 * db:query keeps the last STMT_CACHE statements it prepared (by their SQL text) and
 * reuses them, reset and unbound, so a batch's two inserts per generation are parsed
 * once; a statement is reset as soon as it has run (no values stay bound).
 */
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <sqlite3.h>

#include "sparkgen.h"

#define DB_MT "sparkgen.sqlite.db"
#define STMT_CACHE 8

typedef struct {
    sqlite3_stmt *st;
    char *sql;
    size_t len;
} cached_stmt;

typedef struct {
    sqlite3 *db;
    cached_stmt cache[STMT_CACHE]; /* slot 0 most recently used */
} Db;

static void cache_clear(Db *d)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(d->cache[i].st);
        free(d->cache[i].sql);
        d->cache[i].st = NULL;
        d->cache[i].sql = NULL;
    }
}

/* The statement for sql, reset and unbound, from the cache or newly prepared (and then
 * cached when sql is one whole statement). NULL with *rc set when preparing failed or
 * sql holds no statement (*rc == SQLITE_OK). *cached tells whether the cache owns it. */
static sqlite3_stmt *acquire(Db *d, const char *sql, size_t len, int *rc, int *cached)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        cached_stmt c = d->cache[i];
        if (c.st && c.len == len && memcmp(c.sql, sql, len) == 0) {
            memmove(&d->cache[1], &d->cache[0], (size_t)i * sizeof c);
            d->cache[0] = c;
            sqlite3_reset(c.st);
            sqlite3_clear_bindings(c.st);
            *rc = SQLITE_OK;
            *cached = 1;
            return c.st;
        }
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    *cached = 0;
    *rc = sqlite3_prepare_v3(d->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (*rc != SQLITE_OK || st == NULL)
        return NULL;
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    char *copy = (tail && *tail == '\0') ? malloc(len) : NULL;
    if (copy == NULL)
        return st; /* not cached: the caller finalizes it */
    memcpy(copy, sql, len);
    cached_stmt *last = &d->cache[STMT_CACHE - 1];
    sqlite3_finalize(last->st);
    free(last->sql);
    memmove(&d->cache[1], &d->cache[0], (STMT_CACHE - 1) * sizeof *last);
    d->cache[0] = (cached_stmt){st, copy, len};
    *cached = 1;
    return st;
}

/* Done with a statement from acquire: reset if cached (no open read transaction, no
 * bound values kept), else finalized. */
static void release(sqlite3_stmt *st, int cached)
{
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
}

static Db *check_db(lua_State *L)
{
    Db *d = luaL_checkudata(L, 1, DB_MT);
    if (d->db == NULL)
        luaL_error(L, "sqlite: the database is closed");
    return d;
}

static int fail(lua_State *L, sqlite3 *db, const char *what)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return 2;
}

static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int timeout_ms = 0, readonly = 0, no_ckpt = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "busy_timeout_ms");
        if (!lua_isnil(L, -1)) {
            lua_Integer t = luaL_checkinteger(L, -1);
            luaL_argcheck(L, t >= 0 && t <= 3600000, 2, "busy_timeout_ms out of range");
            timeout_ms = (int)t;
        }
        lua_getfield(L, 2, "readonly");
        readonly = lua_toboolean(L, -1);
        lua_getfield(L, 2, "checkpoint_on_close");
        no_ckpt = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
        lua_pop(L, 3);
    }
    Db *d = lua_newuserdatauv(L, sizeof *d, 0);
    memset(d, 0, sizeof *d);
    luaL_setmetatable(L, DB_MT);
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX; /* one Lua state, one thread */
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return 2;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, timeout_ms);
    if (no_ckpt)
        sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    d->db = db;
    return 1;
}

static int l_exec(lua_State *L)
{
    Db *d = check_db(L);
    const char *sql = luaL_checkstring(L, 2);
    char *err = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err ? err : sqlite3_errmsg(d->db));
        sqlite3_free(err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Bind Lua value at stack index idx to parameter i; 0 on success, else a message. */
static const char *bind_value(lua_State *L, sqlite3_stmt *st, int i, int idx)
{
    int rc;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        rc = sqlite3_bind_null(st, i);
        break;
    case LUA_TBOOLEAN:
        rc = sqlite3_bind_int(st, i, lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            rc = sqlite3_bind_int64(st, i, (sqlite3_int64)lua_tointeger(L, idx));
        else
            rc = sqlite3_bind_double(st, i, (double)lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        rc = sqlite3_bind_text64(st, i, s, (sqlite3_uint64)len, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    }
    default:
        return lua_pushfstring(L, "parameter %d: cannot bind a %s", i, luaL_typename(L, idx));
    }
    return rc == SQLITE_OK ? NULL : lua_pushfstring(L, "parameter %d: %s", i, sqlite3_errstr(rc));
}

static void push_column(lua_State *L, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, c));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, (lua_Number)sqlite3_column_double(st, c));
        break;
    case SQLITE_NULL:
        lua_pushnil(L);
        break;
    default: { /* TEXT and BLOB: bytes */
        const void *p = sqlite3_column_blob(st, c);
        int n = sqlite3_column_bytes(st, c);
        lua_pushlstring(L, p ? p : "", (size_t)n);
        break;
    }
    }
}

static int l_query(lua_State *L)
{
    Db *d = check_db(L);
    size_t sql_len;
    const char *sql = luaL_checklstring(L, 2, &sql_len);
    int nargs = lua_gettop(L) - 2;
    int rc, cached;
    sqlite3_stmt *st = acquire(d, sql, sql_len, &rc, &cached);
    if (rc != SQLITE_OK)
        return fail(L, d->db, "prepare");
    if (st == NULL) { /* only whitespace or a comment */
        lua_newtable(L);
        return 1;
    }
    int nparams = sqlite3_bind_parameter_count(st);
    if (nargs > nparams) {
        release(st, cached);
        return luaL_error(L, "sqlite: %d values for %d parameters", nargs, nparams);
    }
    for (int i = 1; i <= nargs; i++) {
        const char *err = bind_value(L, st, i, i + 2);
        if (err) {
            release(st, cached);
            return luaL_error(L, "sqlite: %s", err);
        }
    }
    lua_newtable(L);
    int ncols = sqlite3_column_count(st);
    lua_Integer nrows = 0;
    for (;;) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            /* sqlite3_errmsg names the step's error; finalize returns the same code */
            lua_pushnil(L);
            lua_pushstring(L, sqlite3_errmsg(d->db));
            release(st, cached);
            return 2;
        }
        lua_createtable(L, 0, ncols);
        for (int c = 0; c < ncols; c++) {
            push_column(L, st, c);
            lua_setfield(L, -2, sqlite3_column_name(st, c));
        }
        lua_rawseti(L, -2, ++nrows);
    }
    release(st, cached);
    return 1;
}

static int l_changes(lua_State *L)
{
    Db *d = check_db(L);
    lua_pushinteger(L, (lua_Integer)sqlite3_changes(d->db));
    return 1;
}

static int l_last_insert_rowid(lua_State *L)
{
    Db *d = check_db(L);
    lua_pushinteger(L, (lua_Integer)sqlite3_last_insert_rowid(d->db));
    return 1;
}

static int l_close(lua_State *L)
{
    Db *d = luaL_checkudata(L, 1, DB_MT);
    if (d->db) {
        cache_clear(d);
        sqlite3_close_v2(d->db);
        d->db = NULL;
    }
    return 0;
}

static const luaL_Reg db_methods[] = {
    {"exec", l_exec},
    {"query", l_query},
    {"changes", l_changes},
    {"last_insert_rowid", l_last_insert_rowid},
    {"close", l_close},
    {NULL, NULL},
};

static const luaL_Reg sqlite_functions[] = {
    {"open", l_open},
    {NULL, NULL},
};

int luaopen_sparkgen_sqlite(lua_State *L)
{
    if (luaL_newmetatable(L, DB_MT)) {
        luaL_newlib(L, db_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, sqlite_functions);
    lua_pushstring(L, sqlite3_libversion());
    lua_setfield(L, -2, "version");
    return 1;
}
