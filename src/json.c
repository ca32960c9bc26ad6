/*
 * json.c — sparkgen.json: the canonical JSON encoder behind util.json_encode. Cache
 * keys, history rows, results and snapshots are all encoded with it, so it is the
 * hottest code of a batch; it writes exactly what the Lua encoder it replaced wrote
 * (tests/lua/json_spec.lua compares the two on generated values).
 *
 * @function encoder(array_mt, escapes, fallback, frozen) -> encode
 *   array_mt  the metatable that marks a table as an array (util.ARRAY_MT)
 *   escapes   {[byte + 1] = "escaped form"} for the bytes a string must escape
 *             (util builds it from lua-cjson, so strings are escaped as cjson does)
 *   fallback  function(v) -> JSON text, for the values encoded by lua-cjson itself:
 *             floats with a fraction, integers of 15 digits or more, and anything that
 *             is not a table, string, boolean, integral number or nil
 *   frozen    a weak-keyed table: frozen[t] = true promises that t (and all it holds)
 *             never changes again, so its compact encoding is computed once and kept
 *             there (a batch encodes the same tool schema into every request)
 * @function encode(value, indent?) -> text
 *   Objects have their keys sorted (as strings, bytewise) at every level, so equal
 *   values encode equally. A table is an array when it has array_mt, or when it has
 *   an element 1 and only the keys 1..#t; any other table is an object (an empty one
 *   is {}). An integral float within 2^53 is written as an integer. `indent` (spaces
 *   per level) pretty-prints with ": " after keys. Raises on nesting deeper than
 *   MAX_DEPTH (a cycle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"

#define MAX_DEPTH 1000
#define BUF_MT "sparkgen.json.buffer"
/* Long strings are remembered encoded: a batch encodes the same system prompt and
 * schema block into every request's cache key and body. Lua hashes a long string once
 * and compares the same string object by address, so a hit costs a table lookup. */
#define LONG_STRING 512
#define LONG_MEMO_MAX 64

typedef struct {
    const char *s;
    size_t n;
    int slot; /* emit_object_general: where the key itself is in its keys table */
} key_entry;

typedef struct {
    char *p;
    size_t n, cap;
    key_entry *keys; /* the string keys of the objects being written, nested ones last */
    size_t nkeys, capkeys;
} buffer;

/* How each byte is written inside a string (len 0: as it is); built once per encoder. */
typedef struct {
    char esc[256][8];
    unsigned char len[256];
} escapes;

typedef struct {
    lua_State *L;
    buffer *b;
    int indent;
    int array_mt, fallback, memo, frozen; /* stack indices */
    const escapes *x;
} encoder;

static int buffer_gc(lua_State *L)
{
    buffer *b = luaL_checkudata(L, 1, BUF_MT);
    free(b->p);
    free(b->keys);
    b->p = NULL;
    b->keys = NULL;
    return 0;
}

static void reserve(encoder *e, size_t more)
{
    buffer *b = e->b;
    if (b->cap - b->n >= more)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->n < more) {
        if (cap > ((size_t)-1) / 2)
            luaL_error(e->L, "json: out of memory");
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL)
        luaL_error(e->L, "json: out of memory");
    b->p = p;
    b->cap = cap;
}

static void put(encoder *e, const char *s, size_t n)
{
    reserve(e, n);
    memcpy(e->b->p + e->b->n, s, n);
    e->b->n += n;
}

static void putc1(encoder *e, char c)
{
    reserve(e, 1);
    e->b->p[e->b->n++] = c;
}

/* The pad before an element at `depth`: a newline and indent x depth spaces. */
static void pad(encoder *e, int depth)
{
    if (!e->indent)
        return;
    size_t n = (size_t)e->indent * (size_t)depth;
    reserve(e, n + 1);
    e->b->p[e->b->n++] = '\n';
    memset(e->b->p + e->b->n, ' ', n);
    e->b->n += n;
}

static void put_string(encoder *e, const char *s, size_t n)
{
    putc1(e, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (e->x->len[c] == 0)
            continue;
        put(e, s + run, i - run);
        put(e, e->x->esc[c], e->x->len[c]);
        run = i + 1;
    }
    put(e, s + run, n - run);
    putc1(e, '"');
}

/* The value at the top of the stack, encoded by the fallback (popped). */
static void put_fallback(encoder *e)
{
    lua_State *L = e->L;
    lua_pushvalue(L, e->fallback);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (s == NULL)
        luaL_error(L, "json: the fallback encoder returned %s", luaL_typename(L, -1));
    put(e, s, n);
    lua_pop(L, 1);
}

static void emit(encoder *e, int depth);

/* Remembers the encoding just written from `from` for the string at the top of the
 * stack (the memo starts over when full: 64 entries at most). */
static void memo_add(encoder *e, size_t from)
{
    lua_State *L = e->L;
    lua_pushliteral(L, "n");
    lua_rawget(L, e->memo);
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n >= LONG_MEMO_MAX) {
        lua_newtable(L);
        lua_replace(L, e->memo);
        lua_pushvalue(L, e->memo);
        lua_replace(L, lua_upvalueindex(4));
        n = 0;
    }
    lua_pushvalue(L, -1);
    lua_pushlstring(L, e->b->p + from, e->b->n - from);
    lua_rawset(L, e->memo);
    lua_pushliteral(L, "n");
    lua_pushinteger(L, n + 1);
    lua_rawset(L, e->memo);
}

/* Whether the table at the top of the stack encodes as an array. */
static int is_array(encoder *e)
{
    lua_State *L = e->L;
    if (lua_getmetatable(L, -1)) {
        int marked = lua_rawequal(L, -1, e->array_mt);
        lua_pop(L, 1);
        if (marked)
            return 1;
    }
    int has_first = lua_geti(L, -1, 1) != LUA_TNIL;
    lua_pop(L, 1);
    if (!has_first)
        return 0;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        count++;
    }
    return count == luaL_len(L, -1);
}

static int key_cmp(const void *a, const void *b)
{
    const key_entry *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static void put_key(encoder *e, const char *s, size_t n)
{
    put_string(e, s, n);
    if (e->indent)
        put(e, ": ", 2);
    else
        putc1(e, ':');
}

/* An object whose keys are all strings (nearly every one): the keys are gathered into
 * the buffer's scratch array (the table anchors them) and sorted there. Returns 0,
 * having written nothing, when a key is not a string. */
static int emit_object_strings(encoder *e, int depth)
{
    lua_State *L = e->L;
    int t = lua_gettop(L);
    buffer *b = e->b;
    size_t base = b->nkeys;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            b->nkeys = base;
            return 0;
        }
        if (b->nkeys == b->capkeys) {
            size_t cap = b->capkeys ? b->capkeys * 2 : 64;
            key_entry *k = realloc(b->keys, cap * sizeof *k);
            if (k == NULL)
                luaL_error(L, "json: out of memory");
            b->keys = k;
            b->capkeys = cap;
        }
        key_entry *k = &b->keys[b->nkeys++];
        k->s = lua_tolstring(L, -1, &k->n);
    }
    size_t nkeys = b->nkeys - base;
    if (nkeys == 0) {
        put(e, "{}", 2);
        return 1;
    }
    qsort(b->keys + base, nkeys, sizeof *b->keys, key_cmp);
    for (size_t k = 0; k < nkeys; k++) {
        const key_entry *key = &b->keys[base + k]; /* re-read: a nested object may move them */
        putc1(e, k == 0 ? '{' : ',');
        pad(e, depth + 1);
        put_key(e, key->s, key->n);
        lua_pushlstring(L, key->s, key->n);
        lua_rawget(L, t);
        emit(e, depth + 1);
    }
    pad(e, depth);
    putc1(e, '}');
    b->nkeys = base;
    return 1;
}

/* Any other object: keys ordered and named by their string forms (tostring). */
static void emit_object_general(encoder *e, int depth)
{
    lua_State *L = e->L;
    int t = lua_gettop(L);
    /* keys: [2k-1] = the key, [2k] = its string form (which orders and names it) */
    lua_newtable(L);
    int keys = lua_gettop(L);
    int nkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        nkeys++;
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, 2 * nkeys - 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
        } else {
            luaL_tolstring(L, -1, NULL);
        }
        lua_rawseti(L, keys, 2 * nkeys);
    }
    if (nkeys == 0) {
        put(e, "{}", 2);
        lua_pop(L, 1);
        return;
    }
    key_entry *order = lua_newuserdatauv(L, (size_t)nkeys * sizeof *order, 0);
    for (int k = 0; k < nkeys; k++) {
        lua_rawgeti(L, keys, 2 * k + 2);
        order[k].s = lua_tolstring(L, -1, &order[k].n); /* anchored by keys */
        order[k].slot = 2 * k + 1;
        lua_pop(L, 1);
    }
    qsort(order, (size_t)nkeys, sizeof *order, key_cmp);
    for (int k = 0; k < nkeys; k++) {
        putc1(e, k == 0 ? '{' : ',');
        pad(e, depth + 1);
        put_key(e, order[k].s, order[k].n);
        lua_rawgeti(L, keys, order[k].slot);
        lua_gettable(L, t);
        emit(e, depth + 1);
    }
    pad(e, depth);
    putc1(e, '}');
    lua_pop(L, 2);
}

static void emit_array(encoder *e, int depth)
{
    lua_State *L = e->L;
    int t = lua_gettop(L);
    lua_Integer len = luaL_len(L, t);
    if (len <= 0) {
        put(e, "[]", 2);
        return;
    }
    for (lua_Integer i = 1; i <= len; i++) {
        putc1(e, i == 1 ? '[' : ',');
        pad(e, depth + 1);
        lua_geti(L, t, i);
        emit(e, depth + 1);
    }
    pad(e, depth);
    putc1(e, ']');
}

/* Encodes the value at the top of the stack and pops it. */
static void emit(encoder *e, int depth)
{
    lua_State *L = e->L;
    char num[32];
    switch (lua_type(L, -1)) {
    case LUA_TTABLE: {
        if (depth >= MAX_DEPTH)
            luaL_error(L, "json: nested more than %d levels deep (a table that contains itself?)", MAX_DEPTH);
        luaL_checkstack(L, 8, "json: nested too deep");
        /* A frozen table (compact only): its encoding is computed once. */
        int frozen = 0;
        size_t from = e->b->n;
        if (!e->indent) {
            lua_pushvalue(L, -1);
            int t = lua_rawget(L, e->frozen);
            if (t == LUA_TSTRING) {
                size_t en;
                const char *enc = lua_tolstring(L, -1, &en);
                put(e, enc, en);
                lua_pop(L, 2);
                return;
            }
            frozen = t == LUA_TBOOLEAN && lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        if (is_array(e))
            emit_array(e, depth);
        else if (!emit_object_strings(e, depth))
            emit_object_general(e, depth);
        if (frozen) {
            lua_pushvalue(L, -1);
            lua_pushlstring(L, e->b->p + from, e->b->n - from);
            lua_rawset(L, e->frozen);
        }
        break;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n < LONG_STRING) {
            put_string(e, s, n);
            break;
        }
        lua_pushvalue(L, -1);
        if (lua_rawget(L, e->memo) == LUA_TSTRING) {
            size_t en;
            const char *enc = lua_tolstring(L, -1, &en);
            put(e, enc, en);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        size_t from = e->b->n;
        put_string(e, s, n);
        memo_add(e, from);
        break;
    }
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1))
            put(e, "true", 4);
        else
            put(e, "false", 5);
        break;
    case LUA_TNIL:
        put(e, "null", 4);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            if (i > -100000000000000LL && i < 100000000000000LL) {
                put(e, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)i));
                break;
            }
        } else {
            lua_Number d = lua_tonumber(L, -1);
            if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (lua_Number)(long long)d) {
                put(e, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)d));
                break;
            }
        }
        put_fallback(e);
        return; /* popped */
    default:
        put_fallback(e);
        return; /* popped */
    }
    lua_pop(L, 1);
}

/* encode(value, indent?): upvalues 1 array_mt, 2 escapes (userdata), 3 fallback,
 * 4 the long-string memo, 5 frozen. */
static int l_encode(lua_State *L)
{
    lua_settop(L, 2);
    lua_Integer indent = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, indent >= 0 && indent <= 16, 2, "indent must be in 0..16");
    encoder e = {.L = L, .indent = (int)indent};
    lua_pushvalue(L, lua_upvalueindex(1));
    e.array_mt = lua_gettop(L);
    e.x = lua_touserdata(L, lua_upvalueindex(2));
    lua_pushvalue(L, lua_upvalueindex(3));
    e.fallback = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(4));
    e.memo = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(5));
    e.frozen = lua_gettop(L);
    e.b = lua_newuserdatauv(L, sizeof *e.b, 0);
    memset(e.b, 0, sizeof *e.b);
    luaL_setmetatable(L, BUF_MT);
    int bi = lua_gettop(L);
    lua_pushvalue(L, 1);
    emit(&e, 0);
    lua_pushlstring(L, e.b->p ? e.b->p : "", e.b->n);
    free(e.b->p);
    free(e.b->keys);
    e.b->p = NULL;
    e.b->keys = NULL;
    lua_remove(L, bi);
    return 1;
}

static int l_encoder(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    escapes *x = lua_newuserdatauv(L, sizeof *x, 0);
    memset(x, 0, sizeof *x);
    for (int c = 0; c < 256; c++) {
        size_t n = 0;
        const char *esc = NULL;
        if (lua_rawgeti(L, 2, c + 1) == LUA_TSTRING)
            esc = lua_tolstring(L, -1, &n);
        else if (!lua_isnil(L, -1))
            return luaL_error(L, "json.encoder: escapes[%d] must be a string", c + 1);
        if (n >= sizeof x->esc[c])
            return luaL_error(L, "json.encoder: escapes[%d] is too long", c + 1);
        if (esc)
            memcpy(x->esc[c], esc, n);
        x->len[c] = (unsigned char)n;
        lua_pop(L, 1);
    }
    lua_replace(L, 2);
    lua_newtable(L); /* the long-string memo */
    lua_insert(L, 4);
    lua_pushcclosure(L, l_encode, 5);
    return 1;
}

int luaopen_sparkgen_json(lua_State *L)
{
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buffer_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_encoder);
    lua_setfield(L, -2, "encoder");
    return 1;
}
