/*
 * sandbox.c — sparkgen.sandbox_core: the budgets behind lua/sparkgen/sandbox.lua.
 *
 * Code a team gives sparkgen (config files, plugins, templates, recipes) runs through
 * call(), which bounds it the way Redis bounds its scripts: a count hook (lua_sethook,
 * LUA_MASKCOUNT) stops it after a number of VM instructions, and the counting
 * allocator the host installs (sparkgen_alloc, set by main.c with lua_newstate) refuses
 * to grow memory past a limit while the call runs. Outside call() neither is active:
 * the engine's own code is never counted nor limited. Policy (what the sandboxed code
 * may see, the default budgets) lives in sandbox.lua; this file only enforces.
 *
 * @function call(instructions, memory_bytes, fn, ...)
 *     Runs fn(...) with the budgets (0 = no limit for that budget). Returns
 *     true, results... or false, message, kind; kind is "instructions", "memory" or
 *     "error". A budget error is reported even if the sandboxed code caught it with
 *     pcall; once a budget is spent every further instruction fails, so no loop of
 *     pcalls outlives it. The message of a budget error names the file and line of
 *     fn's own code that was running (`path:line: took more than N instructions (a
 *     loop?)`). Nested calls each get their own budgets; the enclosing call's hook,
 *     remaining budget and memory limit are restored when they return.
 * @function trusted(fn)
 *     A function that runs fn with the budgets of any enclosing call() suspended, for
 *     engine functions handed to sandboxed code (the recipe API): engine work done on
 *     a recipe's behalf is neither counted nor limited. Errors pass through unchanged.
 * @function memory()   bytes the Lua state holds now (nil without sparkgen_alloc)
 * @function limits()   {instructions_left=, memory_limit=} of the running call, or nil
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"

/* Instructions between two hook calls: small enough that a memory overrun is caught
 * at a line of the sandboxed code before the hard limit refuses an allocation. */
#define HOOK_STEP 128

/* The state of the running call(), one per lua_State thread group (the engine is
 * single-threaded; coroutines are not given to sandboxed code). */
struct budget {
    int active;
    lua_Integer instructions;  /* the budget, for the message */
    lua_Integer left;          /* instructions left */
    size_t memory_budget;      /* bytes allowed on top of what was in use at entry */
    const char *source;        /* fn's chunk name, to find its frame on the stack */
    int spent;                 /* 0, or which budget ran out: 1 instructions, 2 memory */
    char message[512];
};

static struct budget current;

/* ---------------------------------------------------------------------------------
 * The counting allocator. `soft` is the limit a call sets; crossing it marks the
 * call's memory budget spent (the hook then raises at the running line); `hard` is
 * where allocations start failing, so one huge request (string.rep(1e9)) cannot get
 * past it. Frees and shrinks never fail, as Lua requires. */
void *sparkgen_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sparkgen_alloc *a = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (nsize > old && a->hard) {
        size_t grow = nsize - old;
        if (a->used + grow > a->hard) {
            a->over = 1;
            return NULL;
        }
        if (a->used + grow > a->soft)
            a->over = 1;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        if (nsize <= old)
            return ptr; /* a shrink that failed: keep the larger block */
        return NULL;
    }
    a->used = a->used - old + nsize;
    return p;
}

static struct sparkgen_alloc *allocator(lua_State *L)
{
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    return f == sparkgen_alloc ? (struct sparkgen_alloc *)ud : NULL;
}

/* ---------------------------------------------------------------------------------
 * The hook. It names the innermost frame of the sandboxed chunk (fn's own source),
 * so a loop inside a helper the engine lent still points at the plugin's line. */
static void describe_where(lua_State *L, char *out, size_t size)
{
    lua_Debug ar;
    char fallback[400] = "";
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline < 0)
            continue;
        const char *src = ar.source;
        const char *shown = (src[0] == '@' || src[0] == '=') ? src + 1 : ar.short_src;
        if (fallback[0] == '\0')
            snprintf(fallback, sizeof fallback, "%s:%d: ", shown, ar.currentline);
        if (current.source && strcmp(src, current.source) == 0) {
            snprintf(out, size, "%s:%d: ", shown, ar.currentline);
            return;
        }
    }
    snprintf(out, size, "%s", fallback);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct sparkgen_alloc *a = allocator(L);
    if (!current.active)
        return;
    if (!current.spent) {
        if (a && a->over) {
            char where[400];
            describe_where(L, where, sizeof where);
            snprintf(current.message, sizeof current.message,
                     "%sused more than %zu MB of memory (a runaway table or string?)", where,
                     current.memory_budget / (1024 * 1024));
            current.spent = 2;
        } else if (current.instructions > 0 && (current.left -= HOOK_STEP) < 0) {
            char where[400];
            describe_where(L, where, sizeof where);
            snprintf(current.message, sizeof current.message,
                     "%stook more than %lld instructions (a loop?)", where,
                     (long long)current.instructions);
            current.spent = 1;
        } else {
            return;
        }
        /* From now on every instruction fails: a pcall in the sandboxed code cannot
         * keep it going. */
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, current.message);
    lua_error(L);
}

/* Everything call() and trusted() save and restore around a nested run. */
struct saved {
    struct budget budget;
    lua_Hook hook;
    int mask, count;
    size_t soft, hard;
};

static void save(lua_State *L, struct saved *s)
{
    struct sparkgen_alloc *a = allocator(L);
    s->budget = current;
    s->hook = lua_gethook(L);
    s->mask = lua_gethookmask(L);
    s->count = lua_gethookcount(L);
    s->soft = a ? a->soft : 0;
    s->hard = a ? a->hard : 0;
}

static void restore(lua_State *L, const struct saved *s)
{
    struct sparkgen_alloc *a = allocator(L);
    current = s->budget;
    lua_sethook(L, s->hook, s->mask, s->count);
    if (a) {
        a->soft = s->soft;
        a->hard = s->hard;
        a->over = 0;
    }
}

/* Message handler of call(): keep string errors as they are (no traceback: the
 * sandboxed code's error is its author's one line); describe other values without
 * running any of their metamethods. */
static int call_msgh(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING)
        return 1;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushstring(L, lua_tostring(L, 1));
        return 1;
    }
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

static lua_Integer budget_arg(lua_State *L, int i)
{
    lua_Number n = luaL_checknumber(L, i);
    if (!(n >= 0) || n > 9e18)
        luaL_argerror(L, i, "a budget must be a number between 0 and 9e18");
    return (lua_Integer)n;
}

static int l_call(lua_State *L)
{
    lua_Integer instructions = budget_arg(L, 1);
    lua_Integer memory = budget_arg(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 3;

    lua_Debug ar;
    lua_pushvalue(L, 3);
    lua_getinfo(L, ">S", &ar);
    /* fn may be collected once it has run: keep its name for the messages. */
    char shown[256];
    snprintf(shown, sizeof shown, "%s",
             (ar.source[0] == '@' || ar.source[0] == '=') ? ar.source + 1 : ar.short_src);

    struct saved s;
    save(L, &s);
    struct sparkgen_alloc *a = allocator(L);
    current.active = 1;
    current.instructions = instructions;
    current.left = instructions;
    current.memory_budget = a ? (size_t)memory : 0;
    current.source = ar.source;
    current.spent = 0;
    current.message[0] = '\0';
    if (a) {
        a->over = 0;
        if (memory > 0) {
            size_t extra = (size_t)memory / 2 > 16u * 1024 * 1024 ? (size_t)memory / 2 : 16u * 1024 * 1024;
            a->soft = a->used + (size_t)memory;
            a->hard = a->soft + extra;
        } else {
            a->soft = a->hard = 0;
        }
    }
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);

    lua_pushcfunction(L, call_msgh);
    lua_insert(L, 3); /* msgh below fn */
    int base = 3;     /* the message handler's index */
    int status = lua_pcall(L, nargs, LUA_MULTRET, base);
    int spent = current.spent;
    int over = a && a->over && memory > 0;
    char message[sizeof current.message];
    memcpy(message, current.message, sizeof message);
    size_t budget_mb = current.memory_budget / (1024 * 1024);
    restore(L, &s);

    if (spent || (status != LUA_OK && over) || status == LUA_ERRMEM) {
        lua_settop(L, 0);
        lua_pushboolean(L, 0);
        if (spent) {
            lua_pushstring(L, message);
            lua_pushstring(L, spent == 1 ? "instructions" : "memory");
        } else {
            if (over)
                lua_pushfstring(L, "%s: used more than %d MB of memory (a runaway table or string?)",
                                shown, (int)budget_mb);
            else
                lua_pushfstring(L, "%s: not enough memory", shown);
            lua_pushliteral(L, "memory");
        }
        return 3;
    }
    if (status != LUA_OK) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        lua_pushliteral(L, "error");
        return 3;
    }
    int nres = lua_gettop(L) - base;
    lua_pushboolean(L, 1);
    lua_replace(L, base); /* the handler's slot becomes `true` */
    return nres + 1;
}

/* The closure trusted() returns: upvalue 1 is the engine function. */
static int trusted_call(lua_State *L)
{
    struct saved s;
    save(L, &s);
    struct sparkgen_alloc *a = allocator(L);
    current.active = 0;
    lua_sethook(L, NULL, 0, 0);
    if (a)
        a->soft = a->hard = 0;
    int nargs = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
    restore(L, &s);
    if (status != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

static int l_trusted(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_pushcclosure(L, trusted_call, 1);
    return 1;
}

static int l_memory(lua_State *L)
{
    struct sparkgen_alloc *a = allocator(L);
    if (!a)
        return 0;
    lua_pushinteger(L, (lua_Integer)a->used);
    return 1;
}

static int l_limits(lua_State *L)
{
    if (!current.active)
        return 0;
    struct sparkgen_alloc *a = allocator(L);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, current.left);
    lua_setfield(L, -2, "instructions_left");
    lua_pushinteger(L, a ? (lua_Integer)a->soft : 0);
    lua_setfield(L, -2, "memory_limit");
    return 1;
}

int luaopen_sparkgen_sandbox_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"call", l_call},
        {"trusted", l_trusted},
        {"memory", l_memory},
        {"limits", l_limits},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    return 1;
}
