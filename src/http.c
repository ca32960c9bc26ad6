/*
 * http.c — sparkgen.http: HTTP requests over libcurl (easy handles driven by one multi
 * handle), with the retry policy of the official Anthropic SDKs. No policy about what is
 * sent lives here; the providers build the requests.
 *
 * @function request(req)              one request; returns an answer (never raises for
 *                                     network trouble: see `error` below)
 * @function request_many(reqs, opts)  many requests in parallel; returns the answers in
 *                                     input order
 * @param req  {method="POST"|"GET"|..., url=, headers={name=value}, body=string|nil,
 *              timeout_s=600, connect_timeout_s=5, retries=2, backoff_scale=1,
 *              max_response_bytes=64 MiB, retry_policy=nil, on_chunk=nil,
 *              idle_timeout_s=nil}
 * @param opts {concurrency=8, on_done=function(i, answer) end, more=function() end}
 *   (all optional; more needs on_done)
 *   on_done runs protected with a traceback handler: an error in it stops the other
 *   transfers (their handles are released) and is raised again with its traceback.
 *   When answers arrive, the slots they free get their next requests, sent, before
 *   on_done runs for them, so a slow callback never holds a request back.
 *   more: a streaming batch. Whenever a slot is free and `reqs` is used up, more() is
 *   asked for the next request (its index is the next one after the last); nil means
 *   "nothing now" and it is asked again after the next on_done calls. The batch ends
 *   when nothing is in flight and more() has nothing. Answers then go to on_done only
 *   (none are kept: the returned table is empty), so memory stays flat however many
 *   requests pass through; errors in more() or in the request it gives stop the batch
 *   like errors in on_done.
 * @return answer {status=int|nil, headers={lowercased-name=value}, body=string,
 *                 attempts=n, error=nil|"message", elapsed_s=float}
 *   `elapsed_s` runs from the first attempt's start (not from the call: a request
 *   queued behind the concurrency bound has not started) to the answer, retry waits
 *   included.
 *   `error` is set when the last attempt got no complete HTTP response (connection
 *   refused or reset, timeout, truncated body, response too large); `status` is still
 *   set when a status line arrived. An HTTP error status alone is not an `error`.
 *   Repeated response headers are joined with ", ".
 * @example
 *   local a = http.request{method="POST", url=u, headers={["content-type"]="application/json"}, body="{}"}
 *   local all = http.request_many(list, {concurrency=16, on_done=function(i, a) bar:tick() end})
 *
 * Retries: the mechanism lives here (timers inside the multi loop, backoff, attempts),
 * the policy comes from the caller as data (`retry_policy`, built by llm/ for each
 * provider), so a provider with other rules is a Lua change. Without a `retry_policy`
 * nothing is retried. With one, a finished attempt is retried, up to `retries` times,
 * when:
 *   - no response arrived (connection error, timeout, truncated body) and
 *     `connection_errors` is true (a request curl could never send is never retried);
 *   - or the status is in `statuses` or >= `status_min`;
 *   - unless the header named `override_header` says "false" ("true" forces a retry).
 * The delay is the first `delay_headers` entry present and sane (0 < v <= max_delay_s;
 * unit "ms", or "s" = seconds or an HTTP date), else
 * min(initial_s * multiplier^n, max_s) * (1 - jitter * rand) scaled by `backoff_scale`
 * (tests use a small one). A request waiting for its retry gives up its concurrency
 * slot; its timer lives inside the multi loop, so it never blocks the rest of the batch.
 *   retry_policy = {statuses = {408, 409, 429}, status_min = 500, connection_errors = true,
 *                   override_header = "x-should-retry",
 *                   delay_headers = {{"retry-after-ms", "ms"}, {"retry-after", "s"}},
 *                   max_delay_s = 60,
 *                   backoff = {initial_s = 0.5, multiplier = 2, max_s = 8, jitter = 0.25}}
 *
 * Streaming: `on_chunk = function(data, status, attempt)` is called (protected) with
 * every piece of the body as it arrives; an error raised there ends the transfer with
 * `error = "stream callback failed: ..."` and no retry. The body is still collected.
 * `idle_timeout_s` replaces the total timeout by a silence limit, kept by the loop
 * (the attempt fails with "no data received for N s (idle timeout)", a connection error
 * for the retry policy, when no byte arrives for that long), so a long answer that
 * keeps sending never times out.
 *
 * Connections: one multi handle per Lua state keeps the connection cache, so keep-alive
 * connections are reused across calls (request and request_many alike). Proxies follow
 * libcurl's environment variables. Header values (API keys) are never printed or put
 * into error messages.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"

#define STATE_MT "sparkgen.http.state"
#define BATCH_MT "sparkgen.http.batch"
#define DEFAULT_CONCURRENCY 8
#define DEFAULT_MAX_RESPONSE (64u << 20)
#define EASY_POOL_MAX 64
#define MAX_POLICY_STATUSES 32
#define MAX_DELAY_HEADERS 4
#define POLICY_NAME_MAX 64

static int curl_users; /* curl_global_init is process-wide; count the Lua states using it */

typedef struct {
    CURLM *multi;
    CURL *pool[EASY_POOL_MAX]; /* reset easy handles kept for reuse */
    int npool;
    int busy;                  /* a loop is running: on_done must not start another */
    long maxconnects;
    uint64_t rng;
} http_state;

typedef struct {
    char *name, *value;
} header;

enum { X_QUEUED, X_ACTIVE, X_WAITING, X_READY, X_DONE };

enum { DELAY_MS, DELAY_SECONDS_OR_DATE };

typedef struct {
    char name[POLICY_NAME_MAX]; /* lowercased, as response headers are stored */
    int unit;
} delay_header;

/* The caller's retry rules (see the top of the file); enabled = 0 retries nothing. */
typedef struct {
    int enabled;
    int statuses[MAX_POLICY_STATUSES];
    int nstatuses;
    long status_min; /* 0: no open range */
    int connection_errors;
    char override_header[POLICY_NAME_MAX]; /* "" = none */
    delay_header delays[MAX_DELAY_HEADERS];
    int ndelays;
    double max_delay_s;
    double initial_s, multiplier, max_s, jitter;
} retry_policy;

struct batch;

typedef struct {
    int state;
    int idx;                   /* 1-based position in the batch (the on_done index) */
    CURL *easy;
    struct curl_slist *req_headers;
    char *url, *method, *body;
    size_t body_len;
    long timeout_ms, connect_timeout_ms;
    int retries, attempts;
    double backoff_scale;
    size_t max_bytes;
    double started, wake_at;
    retry_policy policy;
    double idle_s;             /* > 0: a silence limit instead of the total timeout */
    double last_byte_at;       /* when the current attempt last received something */
    int on_chunk;              /* registry ref of the streaming callback, or LUA_NOREF */
    struct batch *owner;
    const char *chunk;         /* the piece handed to on_chunk (valid during the call) */
    size_t chunk_len;
    char *cb_error;            /* what on_chunk raised */
    /* the current attempt's response */
    char *data;
    size_t len, cap;
    header *hdrs;
    size_t nhdrs, caphdrs;
    int too_large;
    CURLcode result;
    long status;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

typedef struct batch {
    http_state *st;
    xfer **x;      /* every request so far, by position; NULL once answered (freed) */
    int n, cap;
    int lo;        /* every request before lo is answered */
    int *ready;    /* answered requests whose on_done has not run yet (1-based), cap */
    int nready;
    int more;      /* stack index of the caller's `more` function, 0: none */
    int more_idle; /* more() had nothing: ask again once callbacks have run */
    lua_State *L;  /* the thread running the loop: where on_chunk is called */
} batch;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: jitter only, so quality matters less than having no shared state. */
static double rand_unit(http_state *st)
{
    st->rng ^= st->rng >> 12;
    st->rng ^= st->rng << 25;
    st->rng ^= st->rng >> 27;
    return (double)((st->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- response buffers ---------------------------------------------------------- */

static char *dup_range(const char *s, size_t n);

static void clear_headers(xfer *x)
{
    for (size_t i = 0; i < x->nhdrs; i++) {
        free(x->hdrs[i].name);
        free(x->hdrs[i].value);
    }
    x->nhdrs = 0;
}

static void reset_response(xfer *x)
{
    clear_headers(x);
    x->len = 0;
    x->too_large = 0;
    x->status = 0;
    x->result = CURLE_OK;
    x->errbuf[0] = '\0';
    free(x->cb_error);
    x->cb_error = NULL;
}

/* Runs inside lua_pcall: nothing here may raise outside the protected call. */
static int chunk_trampoline(lua_State *L)
{
    xfer *x = lua_touserdata(L, 1);
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->on_chunk);
    lua_pushlstring(L, x->chunk, x->chunk_len);
    lua_pushinteger(L, status);
    lua_pushinteger(L, x->attempts);
    lua_call(L, 3, 0);
    return 0;
}

/* Hands one piece of the body to the caller's on_chunk; 0 when it raised. Called from
 * curl's write callback, so a Lua error must never unwind through curl: everything
 * that can raise (allocation included) runs inside lua_pcall. */
static int call_on_chunk(xfer *x, const char *ptr, size_t n)
{
    lua_State *L = x->owner->L;
    if (!lua_checkstack(L, 4)) {
        free(x->cb_error);
        x->cb_error = dup_range("no Lua stack left", 17);
        return 0;
    }
    x->chunk = ptr;
    x->chunk_len = n;
    lua_pushcfunction(L, chunk_trampoline);
    lua_pushlightuserdata(L, x);
    int rc = lua_pcall(L, 1, 0, 0);
    x->chunk = NULL;
    if (rc == LUA_OK)
        return 1;
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL)
        msg = "(an error object that is not a string)";
    free(x->cb_error);
    x->cb_error = dup_range(msg, strlen(msg));
    lua_pop(L, 1);
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->idle_s > 0)
        x->last_byte_at = monotonic_now();
    if (n > x->max_bytes - x->len || x->len > x->max_bytes) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *grown = realloc(x->data, cap);
        if (grown == NULL)
            return 0;
        x->data = grown;
        x->cap = cap;
    }
    memcpy(x->data + x->len, ptr, n);
    x->len += n;
    if (x->on_chunk > 0 && n > 0 && !call_on_chunk(x, ptr, n))
        return 0; /* the callback failed: abort (CURLE_WRITE_ERROR, never retried) */
    return n;
}

static const header *find_header(const xfer *x, const char *name)
{
    for (size_t i = 0; i < x->nhdrs; i++)
        if (strcmp(x->hdrs[i].name, name) == 0)
            return &x->hdrs[i];
    return NULL;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Collects "Name: value" lines; a status line starts a new header set, so only the
 * final response's headers survive (100 Continue, proxies' CONNECT answers). */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nitems;
    if (x->idle_s > 0)
        x->last_byte_at = monotonic_now();
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        clear_headers(x);
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return n;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *name = dup_range(line, nlen);
    if (name == NULL)
        return 0;
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < x->nhdrs; i++) {
        if (strcmp(x->hdrs[i].name, name) == 0) { /* repeated: join as HTTP allows */
            size_t old = strlen(x->hdrs[i].value), add = (size_t)(end - v);
            char *joined = realloc(x->hdrs[i].value, old + 2 + add + 1);
            free(name);
            if (joined == NULL)
                return 0;
            memcpy(joined + old, ", ", 2);
            memcpy(joined + old + 2, v, add);
            joined[old + 2 + add] = '\0';
            x->hdrs[i].value = joined;
            return n;
        }
    }
    if (x->nhdrs == x->caphdrs) {
        size_t cap = x->caphdrs ? x->caphdrs * 2 : 16;
        header *grown = realloc(x->hdrs, cap * sizeof *grown);
        if (grown == NULL) {
            free(name);
            return 0;
        }
        x->hdrs = grown;
        x->caphdrs = cap;
    }
    char *value = dup_range(v, (size_t)(end - v));
    if (value == NULL) {
        free(name);
        return 0;
    }
    x->hdrs[x->nhdrs].name = name;
    x->hdrs[x->nhdrs].value = value;
    x->nhdrs++;
    return n;
}

/* ---- state and batch lifetime -------------------------------------------------- */

static void release_easy(http_state *st, CURL *easy)
{
    if (easy == NULL)
        return;
    if (st->npool < EASY_POOL_MAX) {
        curl_easy_reset(easy);
        st->pool[st->npool++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static void xfer_free(lua_State *L, http_state *st, xfer *x)
{
    if (x->on_chunk > 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, x->on_chunk);
        x->on_chunk = LUA_NOREF;
    }
    free(x->cb_error);
    x->cb_error = NULL;
    if (x->easy) {
        if (x->state == X_ACTIVE)
            curl_multi_remove_handle(st->multi, x->easy);
        release_easy(st, x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->req_headers);
    x->req_headers = NULL;
    clear_headers(x);
    free(x->hdrs);
    free(x->data);
    free(x->url);
    free(x->method);
    free(x->body);
    x->hdrs = NULL;
    x->data = NULL;
    x->url = x->method = x->body = NULL;
}

static void batch_release(lua_State *L, batch *b)
{
    if (b->x == NULL)
        return;
    for (int i = 0; i < b->n; i++) {
        if (b->x[i]) {
            xfer_free(L, b->st, b->x[i]);
            free(b->x[i]);
        }
    }
    free(b->x);
    b->x = NULL;
    free(b->ready);
    b->ready = NULL;
    b->st->busy = 0;
}

static int batch_gc(lua_State *L)
{
    batch_release(L, luaL_checkudata(L, 1, BATCH_MT));
    return 0;
}

static int state_gc(lua_State *L)
{
    http_state *st = luaL_checkudata(L, 1, STATE_MT);
    for (int i = 0; i < st->npool; i++)
        curl_easy_cleanup(st->pool[i]);
    st->npool = 0;
    if (st->multi) {
        curl_multi_cleanup(st->multi);
        st->multi = NULL;
        if (--curl_users == 0)
            curl_global_cleanup();
    }
    return 0;
}

/* ---- reading requests ---------------------------------------------------------- */

static char *checked_dup(lua_State *L, const char *s, size_t n)
{
    char *d = dup_range(s, n);
    if (d == NULL)
        luaL_error(L, "out of memory");
    return d;
}

static double opt_number_field(lua_State *L, int t, const char *key, double dflt, int i)
{
    double v = dflt;
    if (lua_getfield(L, t, key) != LUA_TNIL) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok || v != v)
            luaL_error(L, "request %d: %s must be a number", i, key);
    }
    lua_pop(L, 1);
    return v;
}

static int has_crlf(const char *s, size_t n)
{
    return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
}

static void copy_name(lua_State *L, char *dst, const char *src, size_t n, int i, const char *what)
{
    if (n == 0 || n >= POLICY_NAME_MAX || has_crlf(src, n))
        luaL_error(L, "request %d: retry_policy.%s must be a header name of 1..%d characters", i, what,
                   POLICY_NAME_MAX - 1);
    for (size_t k = 0; k < n; k++)
        dst[k] = (char)tolower((unsigned char)src[k]);
    dst[n] = '\0';
}

static double policy_number(lua_State *L, int t, const char *key, double dflt, double lo, double hi, int i)
{
    double v = opt_number_field(L, t, key, dflt, i);
    if (v < lo || v > hi)
        luaL_error(L, "request %d: retry_policy %s must be in %g..%g", i, key, lo, hi);
    return v;
}

/* Reads the retry_policy table at stack index t into p (see the top of the file). */
static void read_policy(lua_State *L, int t, retry_policy *p, int i)
{
    p->enabled = 1;
    p->nstatuses = 0;
    if (lua_getfield(L, t, "statuses") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "request %d: retry_policy.statuses must be a list of HTTP statuses", i);
        lua_Integer n = luaL_len(L, -1);
        if (n > MAX_POLICY_STATUSES)
            luaL_error(L, "request %d: retry_policy.statuses has more than %d entries", i, MAX_POLICY_STATUSES);
        for (lua_Integer k = 1; k <= n; k++) {
            int isnum;
            lua_rawgeti(L, -1, k);
            lua_Integer code = lua_tointegerx(L, -1, &isnum);
            if (!isnum || code < 100 || code > 599)
                luaL_error(L, "request %d: retry_policy.statuses[%d] must be an HTTP status", i, (int)k);
            p->statuses[p->nstatuses++] = (int)code;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    p->status_min = (long)policy_number(L, t, "status_min", 0, 0, 600, i);
    lua_getfield(L, t, "connection_errors");
    p->connection_errors = lua_toboolean(L, -1);
    lua_pop(L, 1);
    p->override_header[0] = '\0';
    if (lua_getfield(L, t, "override_header") != LUA_TNIL) {
        size_t n;
        const char *name = lua_tolstring(L, -1, &n);
        if (name == NULL || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "request %d: retry_policy.override_header must be a string", i);
        copy_name(L, p->override_header, name, n, i, "override_header");
    }
    lua_pop(L, 1);
    p->ndelays = 0;
    if (lua_getfield(L, t, "delay_headers") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "request %d: retry_policy.delay_headers must be a list of {name, unit}", i);
        lua_Integer n = luaL_len(L, -1);
        if (n > MAX_DELAY_HEADERS)
            luaL_error(L, "request %d: retry_policy.delay_headers has more than %d entries", i, MAX_DELAY_HEADERS);
        for (lua_Integer k = 1; k <= n; k++) {
            lua_rawgeti(L, -1, k);
            if (!lua_istable(L, -1) || lua_rawgeti(L, -1, 1) != LUA_TSTRING || lua_rawgeti(L, -2, 2) != LUA_TSTRING)
                luaL_error(L, "request %d: retry_policy.delay_headers[%d] must be {name, \"ms\"|\"s\"}", i, (int)k);
            size_t nlen;
            const char *name = lua_tolstring(L, -2, &nlen), *unit = lua_tostring(L, -1);
            delay_header *d = &p->delays[p->ndelays];
            copy_name(L, d->name, name, nlen, i, "delay_headers");
            if (strcmp(unit, "ms") == 0)
                d->unit = DELAY_MS;
            else if (strcmp(unit, "s") == 0)
                d->unit = DELAY_SECONDS_OR_DATE;
            else
                luaL_error(L, "request %d: retry_policy.delay_headers[%d]: unit must be \"ms\" or \"s\"", i, (int)k);
            p->ndelays++;
            lua_pop(L, 3);
        }
    }
    lua_pop(L, 1);
    p->max_delay_s = policy_number(L, t, "max_delay_s", 60, 0, 86400, i);
    p->initial_s = 0.5, p->multiplier = 2, p->max_s = 8, p->jitter = 0.25;
    if (lua_getfield(L, t, "backoff") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "request %d: retry_policy.backoff must be a table", i);
        int b = lua_gettop(L);
        p->initial_s = policy_number(L, b, "initial_s", 0.5, 0, 3600, i);
        p->multiplier = policy_number(L, b, "multiplier", 2, 1, 100, i);
        p->max_s = policy_number(L, b, "max_s", 8, 0, 3600, i);
        p->jitter = policy_number(L, b, "jitter", 0.25, 0, 1, i);
    }
    lua_pop(L, 1);
}

/* Reads req (at stack index t) into x; bad requests are programmer errors and raise. */
static void read_request(lua_State *L, int t, xfer *x, int i)
{
    size_t n;
    if (!lua_istable(L, t))
        luaL_error(L, "request %d: expected a table, got %s", i, luaL_typename(L, t));

    if (lua_getfield(L, t, "url") != LUA_TSTRING)
        luaL_error(L, "request %d: url must be a string", i);
    const char *url = lua_tolstring(L, -1, &n);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        luaL_error(L, "request %d: url must start with http:// or https://", i);
    x->url = checked_dup(L, url, n);
    lua_pop(L, 1);

    const char *method = "GET";
    int mt = lua_getfield(L, t, "method");
    if (mt == LUA_TSTRING)
        method = lua_tostring(L, -1);
    else if (mt != LUA_TNIL)
        luaL_error(L, "request %d: method must be a string", i);
    if (*method == '\0' || strpbrk(method, " \r\n"))
        luaL_error(L, "request %d: bad method", i);
    x->method = checked_dup(L, method, strlen(method));
    for (char *p = x->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    lua_pop(L, 1);

    int bt = lua_getfield(L, t, "body");
    if (bt == LUA_TSTRING) {
        const char *body = lua_tolstring(L, -1, &n);
        x->body = checked_dup(L, body, n);
        x->body_len = n;
    } else if (bt != LUA_TNIL) {
        luaL_error(L, "request %d: body must be a string or nil", i);
    }
    lua_pop(L, 1);

    int ht = lua_getfield(L, t, "headers");
    if (ht == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t kn, vn;
            if (lua_type(L, -2) != LUA_TSTRING || !(lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER))
                luaL_error(L, "request %d: headers must map names to strings", i);
            lua_pushvalue(L, -1); /* tolstring on a copy: never convert a key in place */
            const char *k = lua_tolstring(L, -3, &kn), *v = lua_tolstring(L, -1, &vn);
            if (kn == 0 || memchr(k, ':', kn) || has_crlf(k, kn) || has_crlf(v, vn))
                luaL_error(L, "request %d: invalid header name or value (header %s)", i,
                           has_crlf(k, kn) ? "?" : k);
            /* "Name;" is curl's way to send a header with an empty value. */
            luaL_Buffer lb;
            luaL_buffinit(L, &lb);
            luaL_addlstring(&lb, k, kn);
            luaL_addstring(&lb, vn ? ": " : ";");
            luaL_addlstring(&lb, v, vn);
            luaL_pushresult(&lb);
            struct curl_slist *grown = curl_slist_append(x->req_headers, lua_tostring(L, -1));
            if (grown == NULL)
                luaL_error(L, "out of memory");
            x->req_headers = grown;
            lua_pop(L, 3);
        }
    } else if (ht != LUA_TNIL) {
        luaL_error(L, "request %d: headers must be a table", i);
    }
    lua_pop(L, 1);
    /* curl sends Expect: 100-continue for bodies over 1 KiB: a wasted round trip. */
    struct curl_slist *grown = curl_slist_append(x->req_headers, "Expect:");
    if (grown == NULL)
        luaL_error(L, "out of memory");
    x->req_headers = grown;

    x->on_chunk = LUA_NOREF;
    int ct = lua_getfield(L, t, "on_chunk");
    if (ct == LUA_TFUNCTION)
        x->on_chunk = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it */
    else if (ct != LUA_TNIL)
        luaL_error(L, "request %d: on_chunk must be a function", i);
    else
        lua_pop(L, 1);

    x->policy.enabled = 0;
    int pt = lua_getfield(L, t, "retry_policy");
    if (pt == LUA_TTABLE)
        read_policy(L, lua_gettop(L), &x->policy, i);
    else if (pt != LUA_TNIL && !(pt == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
        luaL_error(L, "request %d: retry_policy must be a table (or false: no retries)", i);
    lua_pop(L, 1);

    double idle = opt_number_field(L, t, "idle_timeout_s", 0, i);
    if (idle < 0)
        luaL_error(L, "request %d: idle_timeout_s must be positive", i);
    x->idle_s = idle > 1e6 ? 1e6 : idle;

    double timeout = opt_number_field(L, t, "timeout_s", 600, i);
    double connect = opt_number_field(L, t, "connect_timeout_s", 5, i);
    double retries = opt_number_field(L, t, "retries", 2, i);
    double scale = opt_number_field(L, t, "backoff_scale", 1, i);
    double maxb = opt_number_field(L, t, "max_response_bytes", DEFAULT_MAX_RESPONSE, i);
    if (timeout <= 0 || connect <= 0)
        luaL_error(L, "request %d: timeouts must be positive", i);
    if (retries < 0 || retries > 100 || retries != floor(retries))
        luaL_error(L, "request %d: retries must be an integer in 0..100", i);
    if (scale < 0 || maxb < 1)
        luaL_error(L, "request %d: backoff_scale and max_response_bytes must be positive", i);
    x->timeout_ms = timeout * 1000 > 1e9 ? 1000000000L : (long)ceil(timeout * 1000);
    x->connect_timeout_ms = connect * 1000 > 1e9 ? 1000000000L : (long)ceil(connect * 1000);
    x->retries = (int)retries;
    x->backoff_scale = scale;
    x->max_bytes = maxb > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)maxb;
}

/* ---- one attempt ---------------------------------------------------------------- */

static int setup_easy(http_state *st, xfer *x)
{
    if (x->easy == NULL) {
        x->easy = st->npool > 0 ? st->pool[--st->npool] : curl_easy_init();
        if (x->easy == NULL)
            return 0;
        CURL *e = x->easy;
        curl_easy_setopt(e, CURLOPT_URL, x->url);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
        /* A stream's limit is silence (checked by the loop), not duration. */
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->idle_s > 0 ? 0L : x->timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "sparkgen/" SPARKGEN_VERSION);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        if (strcmp(x->method, "GET") == 0 && x->body == NULL) {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(x->method, "HEAD") == 0) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else {
            if (strcmp(x->method, "POST") != 0)
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
            if (x->body || strcmp(x->method, "POST") == 0) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
            }
        }
    }
    reset_response(x);
    x->last_byte_at = monotonic_now();
    if (x->attempts++ == 0)
        x->started = x->last_byte_at; /* time in the queue is not the request's */
    if (curl_multi_add_handle(st->multi, x->easy) != CURLM_OK)
        return 0;
    x->state = X_ACTIVE;
    return 1;
}

/* Connection trouble is worth another try; a request curl could never send is not. */
static int retryable_curl_error(const xfer *x)
{
    if (x->too_large)
        return 0;
    switch (x->result) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return 0;
    default:
        return 1;
    }
}

/* Server-suggested delay in seconds from the policy's delay headers, in order, or -1
 * when none is present and sane (0 < v <= max_delay_s). */
static double server_delay(const xfer *x)
{
    const retry_policy *p = &x->policy;
    for (int k = 0; k < p->ndelays; k++) {
        const header *h = find_header(x, p->delays[k].name);
        if (h == NULL)
            continue;
        char *end;
        double v = strtod(h->value, &end);
        int number = end != h->value && *end == '\0';
        if (p->delays[k].unit == DELAY_MS) {
            v = number ? v / 1000 : -1;
        } else if (!number) { /* not a number: an HTTP date */
            time_t when = curl_getdate(h->value, NULL);
            v = when == -1 ? -1 : difftime(when, time(NULL));
        }
        if (v > 0 && v <= p->max_delay_s)
            return v;
    }
    return -1;
}

static int status_retries(const retry_policy *p, long status)
{
    if (p->status_min > 0 && status >= p->status_min)
        return 1;
    for (int k = 0; k < p->nstatuses; k++)
        if (p->statuses[k] == status)
            return 1;
    return 0;
}

/* Decides, by the request's policy, whether the finished attempt is retried; sets
 * *delay (seconds) if so. */
static int plan_retry(http_state *st, const xfer *x, double *delay)
{
    const retry_policy *p = &x->policy;
    if (!p->enabled || x->attempts > x->retries || x->cb_error)
        return 0;
    if (x->result != CURLE_OK) {
        if (!p->connection_errors || !retryable_curl_error(x))
            return 0;
    } else {
        const header *h = p->override_header[0] ? find_header(x, p->override_header) : NULL;
        if (h && strcmp(h->value, "false") == 0)
            return 0;
        if (!(h && strcmp(h->value, "true") == 0) && !status_retries(p, x->status))
            return 0;
    }
    double server = x->result == CURLE_OK ? server_delay(x) : -1;
    if (server > 0) {
        *delay = server;
    } else {
        int n = x->attempts - 1; /* retries already made */
        double base = fmin(p->initial_s * pow(p->multiplier, n > 30 ? 30 : n), p->max_s);
        *delay = base * (1 - p->jitter * rand_unit(st)) * x->backoff_scale;
    }
    return 1;
}

/* ---- answers -------------------------------------------------------------------- */

static void push_answer(lua_State *L, xfer *x, double finished)
{
    lua_createtable(L, 0, 6);
    if (x->status > 0) {
        lua_pushinteger(L, x->status);
        lua_setfield(L, -2, "status");
    }
    lua_createtable(L, 0, (int)x->nhdrs);
    for (size_t i = 0; i < x->nhdrs; i++) {
        lua_pushstring(L, x->hdrs[i].value);
        lua_setfield(L, -2, x->hdrs[i].name);
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, x->data ? x->data : "", x->len);
    lua_setfield(L, -2, "body");
    lua_pushinteger(L, x->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, finished - x->started);
    lua_setfield(L, -2, "elapsed_s");
    if (x->cb_error) {
        lua_pushfstring(L, "stream callback failed: %s", x->cb_error);
        lua_setfield(L, -2, "error");
    } else if (x->too_large) {
        lua_pushfstring(L, "response larger than %I bytes", (lua_Integer)x->max_bytes);
        lua_setfield(L, -2, "error");
    } else if (x->result != CURLE_OK) {
        lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
        lua_setfield(L, -2, "error");
    }
}

/* ---- the loop ------------------------------------------------------------------- */

static http_state *check_state(lua_State *L)
{
    http_state *st = luaL_checkudata(L, lua_upvalueindex(1), STATE_MT);
    if (st->multi == NULL)
        luaL_error(L, "sparkgen.http used after shutdown");
    if (st->busy)
        luaL_error(L, "sparkgen.http: a request cannot be started from inside on_done");
    return st;
}

/* Message handler for on_done: the error keeps its traceback (as main.c's does), so a
 * bug in a callback is reported where it happened, not at the multi loop. */
static int callback_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        return 1; /* a non-string error object goes on unchanged */
    luaL_traceback(L, L, msg, 1);
    return 1;
}

typedef struct {
    int active, waiting, done;
    int results, on_done; /* stack indices (on_done 0: none) */
    int handler;          /* stack index of callback_traceback */
    int concurrency;
    int next_fresh;       /* the next request of the batch not started yet */
} loop_state;

static void start_transfers(lua_State *L, batch *b, loop_state *ls);
static void read_finished(lua_State *L, batch *b, loop_state *ls);

/* An attempt of x ended with `result`: plan a retry, or build the answer, store it and
 * queue its on_done (run_batch calls it once the freed slot has its next request on
 * the wire, so a slow callback never holds a request back). */
static void attempt_done(lua_State *L, batch *b, xfer *x, CURLcode result, loop_state *ls)
{
    http_state *st = b->st;
    x->result = result;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    curl_multi_remove_handle(st->multi, x->easy);
    ls->active--;
    double delay;
    double finished = monotonic_now();
    if (plan_retry(st, x, &delay)) {
        x->state = X_WAITING;
        x->wake_at = finished + delay;
        ls->waiting++;
        return;
    }
    x->state = X_DONE;
    ls->done++;
    int idx = x->idx;
    push_answer(L, x, finished);
    /* The answer is built: free the request and recycle the handle now. */
    xfer_free(L, st, x);
    free(x);
    b->x[idx - 1] = NULL;
    while (b->lo < b->n && b->x[b->lo] == NULL)
        b->lo++;
    lua_rawseti(L, ls->results, idx);
    if (ls->on_done)
        b->ready[b->nready++] = idx;
}

/* Between two callbacks: when a socket has something, the answers that finished get
 * their slots' next requests sent before the next callback runs (their own callbacks
 * join the queue), so a slot waits for at most one callback, not for all of them. */
static void pump(lua_State *L, batch *b, loop_state *ls)
{
    http_state *st = b->st;
    int numfds = 0, running;
    if (curl_multi_wait(st->multi, NULL, 0, 0, &numfds) != CURLM_OK || numfds == 0)
        return;
    curl_multi_perform(st->multi, &running);
    int before = ls->done;
    read_finished(L, b, ls);
    if (ls->done > before) {
        start_transfers(L, b, ls);
        curl_multi_perform(st->multi, &running);
    }
}

/* Calls on_done for every queued answer, in the order they arrived (answers that
 * arrive meanwhile are queued behind and called too). */
static void run_callbacks(lua_State *L, batch *b, loop_state *ls)
{
    for (int k = 0; k < b->nready; k++) {
        int idx = b->ready[k];
        lua_pushvalue(L, ls->on_done);
        lua_pushinteger(L, idx);
        lua_rawgeti(L, ls->results, idx);
        if (lua_pcall(L, 2, 0, ls->handler) != LUA_OK) {
            batch_release(L, b); /* stop the other transfers before re-raising */
            lua_error(L);
        }
        if (b->more) { /* streaming: the answer was on_done's alone to keep */
            lua_pushnil(L);
            lua_rawseti(L, ls->results, idx);
        }
        b->more_idle = 0; /* the callback may have queued more work */
        pump(L, b, ls);
    }
    b->nready = 0;
}

/* Appends an empty request to b (raises on out of memory, after releasing b). */
static xfer *batch_add(lua_State *L, batch *b)
{
    if (b->n == b->cap) {
        int cap = b->cap * 2;
        xfer **nx = cap > b->cap ? realloc(b->x, (size_t)cap * sizeof *nx) : NULL;
        if (nx)
            b->x = nx;
        int *nr = nx ? realloc(b->ready, (size_t)cap * sizeof *nr) : NULL;
        if (nr)
            b->ready = nr;
        if (!nx || !nr) {
            batch_release(L, b);
            luaL_error(L, "out of memory");
        }
        b->cap = cap;
    }
    xfer *x = calloc(1, sizeof *x);
    if (x == NULL) {
        batch_release(L, b);
        luaL_error(L, "out of memory");
    }
    x->owner = b;
    x->idx = b->n + 1;
    b->x[b->n++] = x;
    return x;
}

/* Runs inside lua_pcall: reads the request at 2 into the xfer at 1. */
static int read_trampoline(lua_State *L)
{
    xfer *x = lua_touserdata(L, 1);
    read_request(L, 2, x, x->idx);
    return 0;
}

/* Asks the caller's more() for the next request; 1 when one was added, 0 when it had
 * none for now. An error in more() or in the request stops the batch and is raised. */
static int pull_more(lua_State *L, batch *b, loop_state *ls)
{
    lua_pushvalue(L, b->more);
    if (lua_pcall(L, 0, 1, ls->handler) != LUA_OK) {
        batch_release(L, b);
        lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        b->more_idle = 1;
        return 0;
    }
    xfer *x = batch_add(L, b);
    lua_pushcfunction(L, read_trampoline);
    lua_pushlightuserdata(L, x);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 2, 0, ls->handler) != LUA_OK) {
        batch_release(L, b);
        lua_error(L);
    }
    lua_pop(L, 1);
    return 1;
}

/* Starts x's next attempt in a free slot (raises on out of memory, after releasing b). */
static void start_one(lua_State *L, batch *b, loop_state *ls, xfer *x)
{
    if (!setup_easy(b->st, x)) {
        batch_release(L, b);
        luaL_error(L, "cannot start an HTTP transfer (out of memory?)");
    }
    ls->active++;
}

/* Fills the free slots: retries whose timer has expired first (they have waited
 * already), then requests not yet started. */
static void start_transfers(lua_State *L, batch *b, loop_state *ls)
{
    int concurrency = ls->concurrency;
    double now = monotonic_now();
    for (int i = b->lo; ls->waiting > 0 && i < b->n && ls->active < concurrency; i++) {
        xfer *x = b->x[i];
        if (x && x->state == X_WAITING && x->wake_at <= now) {
            ls->waiting--;
            start_one(L, b, ls, x);
        }
    }
    int unsent = 0; /* transfers set up since curl last ran */
    while (ls->active < concurrency) {
        if (ls->next_fresh == b->n) {
            if (!b->more || b->more_idle)
                break;
            /* What is set up goes out before more() builds the next request (a batch's
             * first requests then leave one by one, not after the whole first fill). */
            if (unsent) {
                int running;
                curl_multi_perform(b->st->multi, &running);
                unsent = 0;
            }
            if (!pull_more(L, b, ls))
                break;
        }
        start_one(L, b, ls, b->x[ls->next_fresh++]);
        unsent++;
    }
}

/* Whether the batch may still get work: requests not started, or more() to ask. */
static int has_more(const batch *b, const loop_state *ls)
{
    return ls->next_fresh < b->n || (b->more && !b->more_idle);
}

/* Hands every transfer curl reports finished to attempt_done. */
static void read_finished(lua_State *L, batch *b, loop_state *ls)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(b->st->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        attempt_done(L, b, (xfer *)priv, msg->data.result, ls);
    }
}

/* Ends the attempts that have been silent longer than their idle limit; returns the
 * nearest silence deadline of the others (HUGE_VAL when none). */
static double check_silence(lua_State *L, batch *b, loop_state *ls)
{
    double now = monotonic_now(), next = HUGE_VAL;
    for (int i = b->lo; i < b->n; i++) {
        xfer *x = b->x[i];
        if (x == NULL || x->state != X_ACTIVE || x->idle_s <= 0)
            continue;
        double deadline = x->last_byte_at + x->idle_s;
        if (deadline <= now) {
            snprintf(x->errbuf, sizeof x->errbuf, "no data received for %.1f s (idle timeout)", x->idle_s);
            attempt_done(L, b, x, CURLE_OPERATION_TIMEDOUT, ls);
        } else if (deadline < next) {
            next = deadline;
        }
    }
    return next;
}

/* Runs the batch at stack index `bi` (a BATCH_MT userdata) and leaves the answers table
 * on the stack. `on_done` is a stack index or 0. */
static void run_batch(lua_State *L, int bi, int concurrency, int on_done)
{
    batch *b = lua_touserdata(L, bi);
    http_state *st = b->st;
    lua_pushcfunction(L, callback_traceback);
    int handler = lua_gettop(L);
    b->L = L;
    lua_createtable(L, b->more ? 0 : b->n, 0);
    loop_state ls = {0, 0, 0, lua_gettop(L), on_done, handler, concurrency, 0};

    if (st->maxconnects < concurrency * 2L) {
        st->maxconnects = concurrency * 2L;
        curl_multi_setopt(st->multi, CURLMOPT_MAXCONNECTS, st->maxconnects);
    }
    st->busy = 1; /* the batch owns the multi handle until batch_release */

    for (;;) {
        double now, next_wake = HUGE_VAL;
        start_transfers(L, b, &ls);
        if (ls.done == b->n && !has_more(b, &ls))
            break;
        int running;
        curl_multi_perform(st->multi, &running);
        read_finished(L, b, &ls);
        double silence = check_silence(L, b, &ls);
        if (b->nready > 0) {
            /* The freed slots get their next requests, sent, before the callbacks run;
             * then round again: what finished meanwhile is read before any wait. */
            start_transfers(L, b, &ls);
            curl_multi_perform(st->multi, &running);
            run_callbacks(L, b, &ls);
            continue;
        }
        if (ls.done == b->n || (ls.active < concurrency && has_more(b, &ls)))
            continue; /* a slot freed up: start the next request now (or end) */
        now = monotonic_now();
        for (int i = b->lo; ls.waiting > 0 && i < b->n; i++)
            if (b->x[i] && b->x[i]->state == X_WAITING && b->x[i]->wake_at < next_wake)
                next_wake = b->x[i]->wake_at;
        /* curl wakes us for socket activity and its own timeouts; a retry timer only
         * matters when a slot is free for it; a silence deadline always does. */
        if (!(next_wake < HUGE_VAL && ls.active < concurrency))
            next_wake = HUGE_VAL;
        if (silence < next_wake)
            next_wake = silence;
        int timeout_ms = 1000;
        if (next_wake < HUGE_VAL)
            timeout_ms = next_wake <= now ? 0 : (int)fmin(ceil((next_wake - now) * 1000), 1000);
        if (timeout_ms > 0)
            curl_multi_poll(st->multi, NULL, 0, timeout_ms, NULL);
    }
    lua_remove(L, handler);
}

/* Builds the batch userdata for n requests (requests read by the caller). */
static batch *new_batch(lua_State *L, http_state *st, int n)
{
    batch *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->st = st;
    b->n = b->cap = b->lo = b->nready = b->more = b->more_idle = 0;
    b->x = NULL;
    b->ready = NULL;
    luaL_setmetatable(L, BATCH_MT);
    int cap = n > 16 ? n : 16;
    b->x = calloc((size_t)cap, sizeof *b->x);
    b->ready = calloc((size_t)cap, sizeof *b->ready);
    if (b->x == NULL || b->ready == NULL)
        luaL_error(L, "out of memory");
    b->cap = cap;
    for (int i = 0; i < n; i++)
        batch_add(L, b);
    return b;
}

static int l_http_request(lua_State *L)
{
    http_state *st = check_state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    batch *b = new_batch(L, st, 1);
    int bi = lua_gettop(L);
    read_request(L, 1, b->x[0], 1);
    run_batch(L, bi, 1, 0);
    lua_rawgeti(L, -1, 1);
    batch_release(L, b);
    return 1;
}

static int l_http_request_many(lua_State *L)
{
    http_state *st = check_state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    int concurrency = DEFAULT_CONCURRENCY, on_done = 0, more = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "concurrency") != LUA_TNIL) {
            lua_Integer c = luaL_checkinteger(L, -1);
            luaL_argcheck(L, c >= 1 && c <= 1000, 2, "concurrency must be in 1..1000");
            concurrency = (int)c;
        }
        if (lua_getfield(L, 2, "on_done") != LUA_TNIL) {
            luaL_argexpected(L, lua_isfunction(L, -1), 2, "on_done function");
            on_done = lua_gettop(L);
        }
        if (lua_getfield(L, 2, "more") != LUA_TNIL) {
            luaL_argexpected(L, lua_isfunction(L, -1), 2, "more function");
            luaL_argcheck(L, on_done != 0, 2, "more needs on_done (the answers are only given to it)");
            more = lua_gettop(L);
        }
    }
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 1, "too many requests");
    batch *b = new_batch(L, st, (int)n);
    int bi = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        read_request(L, lua_gettop(L), b->x[i], i + 1);
        lua_pop(L, 1);
    }
    b->more = more;
    run_batch(L, bi, concurrency, on_done);
    batch_release(L, b);
    return 1;
}

static const luaL_Reg http_functions[] = {
    {"request", l_http_request},
    {"request_many", l_http_request_many},
    {NULL, NULL},
};

int luaopen_sparkgen_http(lua_State *L)
{
    if (luaL_newmetatable(L, BATCH_MT)) {
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, STATE_MT)) {
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);

    lua_newtable(L);
    http_state *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    luaL_setmetatable(L, STATE_MT);
    if (curl_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "cannot initialise libcurl");
    curl_users++;
    st->multi = curl_multi_init();
    if (st->multi == NULL) {
        if (--curl_users == 0)
            curl_global_cleanup();
        return luaL_error(L, "cannot initialise libcurl");
    }
    st->maxconnects = 32;
    curl_multi_setopt(st->multi, CURLMOPT_MAXCONNECTS, st->maxconnects);
    st->rng = (uint64_t)time(NULL) * 6364136223846793005ULL ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)st;
    if (st->rng == 0)
        st->rng = 88172645463325252ULL;
    luaL_setfuncs(L, http_functions, 1);
    return 1;
}
