/*
 * proc_io.c — sparkgen.proc's pipes: write (EPIPE is an error, never SIGPIPE), read a
 * line or a chunk of stdout with a deadline, communicate without deadlock, poll several
 * children; and the deadline, buffer and descriptor helpers proc_spawn.c shares. The
 * API is described in proc.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"
#include "proc.h"

/* ------------------------------------------------------------------------------- */
/* small helpers (shared with proc_spawn.c) */

double proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before `deadline` for poll(): -1 = no deadline. */
int proc_poll_ms(double deadline)
{
    if (deadline < 0)
        return -1;
    double left = deadline - proc_now();
    if (left <= 0)
        return 0;
    if (left > 86400.0)
        return 86400 * 1000;
    return (int)(left * 1000.0) + 1;
}

/* Deadline from an optional timeout argument (seconds); -1 = none. */
double proc_opt_deadline(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return -1;
    double t = luaL_checknumber(L, idx);
    luaL_argcheck(L, t == t && t >= 0 && t <= 1e9, idx, "timeout must be a number of seconds >= 0");
    return proc_now() + t;
}

int proc_buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        if (cap > SIZE_MAX / 2)
            return 0;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return 0;
    b->data = p;
    b->cap = cap;
    return 1;
}

void proc_buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void proc_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

proc_t *proc_check(lua_State *L)
{
    proc_t *p = luaL_checkudata(L, 1, PROC_MT);
    if (p->closed)
        luaL_error(L, "attempt to use a closed process handle");
    return p;
}

/* ------------------------------------------------------------------------------- */
/* writing */

/* write() with SIGPIPE blocked, so a child that went away is EPIPE, not our death. */
static ssize_t write_nosigpipe(int fd, const char *data, size_t len)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t n = write(fd, data, len);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero); /* consume the SIGPIPE we caused */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

static int l_proc_write(lua_State *L)
{
    proc_t *p = proc_check(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    if (p->in_fd < 0)
        return luaL_error(L, "proc: stdin is not an open pipe");
    size_t off = 0;
    while (off < len) {
        ssize_t n = write_nosigpipe(p->in_fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            luaL_pushfail(L);
            lua_pushfstring(L, "cannot write to process %d: %s", (int)p->pid, strerror(errno));
            return 2;
        }
        off += (size_t)n;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_proc_close_stdin(lua_State *L)
{
    proc_t *p = proc_check(L);
    proc_close_fd(&p->in_fd);
    return 0;
}

/* ------------------------------------------------------------------------------- */
/* reading */

/* Read what stdout has into p->out. 1 = got data or EOF, 0 = nothing (would block),
 * -1 = error (errno). Blocks until readable or the deadline. */
static int fill(lua_State *L, proc_t *p, double deadline)
{
    if (p->out_eof || p->out_fd < 0) {
        p->out_eof = 1;
        return 1;
    }
    for (;;) {
        struct pollfd pfd = {p->out_fd, POLLIN, 0};
        int rc = poll(&pfd, 1, proc_poll_ms(deadline));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (rc == 0)
            return 0;
        break;
    }
    if (!proc_buf_reserve(&p->out, READ_CHUNK))
        luaL_error(L, "proc: not enough memory for the output of process %d", (int)p->pid);
    ssize_t n;
    do {
        n = read(p->out_fd, p->out.data + p->out.len, READ_CHUNK);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0)
        p->out_eof = 1;
    p->out.len += (size_t)n;
    return 1;
}

static void consume(proc_t *p, size_t n)
{
    memmove(p->out.data, p->out.data + n, p->out.len - n);
    p->out.len -= n;
}

static int read_error(lua_State *L, proc_t *p)
{
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot read from process %d: %s", (int)p->pid, strerror(errno));
    return 2;
}

/* nil, what: a reader's "timeout" or "eof" */
static int push_fail(lua_State *L, const char *what)
{
    luaL_pushfail(L);
    lua_pushstring(L, what);
    return 2;
}

/* A reader's handle (argument 1) and deadline (argument 2); stdout must be a pipe, or
 * have output left over from one. */
static proc_t *reader(lua_State *L, double *deadline)
{
    proc_t *p = proc_check(L);
    *deadline = proc_opt_deadline(L, 2);
    if (p->out_fd < 0 && !p->out_eof && p->out.len == 0)
        luaL_error(L, "proc: stdout is not a pipe");
    return p;
}

/* fill() for a reader: 0 when something arrived (data or EOF), else the number of
 * results it pushed for the reader to return (nil, "timeout" | nil, the error). */
static int fill_or_fail(lua_State *L, proc_t *p, double deadline)
{
    int rc = fill(L, p, deadline);
    if (rc < 0)
        return read_error(L, p);
    return rc == 0 ? push_fail(L, "timeout") : 0;
}

static int l_proc_read_line(lua_State *L)
{
    double deadline;
    proc_t *p = reader(L, &deadline);
    for (;;) {
        char *nl = p->out.len ? memchr(p->out.data, '\n', p->out.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p->out.data);
            lua_pushlstring(L, p->out.data, n);
            consume(p, n + 1);
            return 1;
        }
        if (p->out_eof) {
            if (p->out.len) { /* a last line without its newline */
                lua_pushlstring(L, p->out.data, p->out.len);
                p->out.len = 0;
                return 1;
            }
            return push_fail(L, "eof");
        }
        int pushed = fill_or_fail(L, p, deadline);
        if (pushed)
            return pushed;
    }
}

static int l_proc_read(lua_State *L)
{
    double deadline;
    proc_t *p = reader(L, &deadline);
    if (p->out.len == 0) {
        int pushed = fill_or_fail(L, p, deadline);
        if (pushed)
            return pushed;
    }
    if (p->out.len == 0)
        return push_fail(L, "eof");
    size_t n = p->out.len < READ_CHUNK ? p->out.len : READ_CHUNK;
    lua_pushlstring(L, p->out.data, n);
    consume(p, n);
    return 1;
}

/* Write input, close stdin, read stdout and stderr to EOF: no pipe can fill up and
 * deadlock the child, whatever order it writes in. */
static int l_proc_communicate(lua_State *L)
{
    proc_t *p = proc_check(L);
    size_t in_len = 0;
    const char *input = luaL_optlstring(L, 2, NULL, &in_len);
    double deadline = proc_opt_deadline(L, 3);
    if (input && p->in_fd < 0)
        return luaL_error(L, "proc: stdin is not an open pipe");
    size_t in_off = 0;
    if (!input)
        proc_close_fd(&p->in_fd);
    buf_t err = {0};
    if (p->in_fd >= 0)
        fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
    int failed = 0, timed_out = 0, oom = 0;
    while (p->in_fd >= 0 || (p->out_fd >= 0 && !p->out_eof) || p->err_fd >= 0) {
        struct pollfd pfd[3];
        int idx[3], n = 0;
        if (p->in_fd >= 0) {
            pfd[n] = (struct pollfd){p->in_fd, POLLOUT, 0};
            idx[n++] = 0;
        }
        if (p->out_fd >= 0 && !p->out_eof) {
            pfd[n] = (struct pollfd){p->out_fd, POLLIN, 0};
            idx[n++] = 1;
        }
        if (p->err_fd >= 0) {
            pfd[n] = (struct pollfd){p->err_fd, POLLIN, 0};
            idx[n++] = 2;
        }
        int rc = poll(pfd, (nfds_t)n, proc_poll_ms(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            failed = errno;
            break;
        }
        if (rc == 0) {
            timed_out = 1;
            break;
        }
        for (int k = 0; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (idx[k] == 0) {
                ssize_t w = write_nosigpipe(p->in_fd, input + in_off, in_len - in_off);
                if (w < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (w < 0) /* the child stopped reading (EPIPE): keep its output */
                    in_off = in_len;
                else
                    in_off += (size_t)w;
                if (in_off >= in_len)
                    proc_close_fd(&p->in_fd);
            } else {
                buf_t *b = idx[k] == 1 ? &p->out : &err;
                int fd = idx[k] == 1 ? p->out_fd : p->err_fd;
                if (!proc_buf_reserve(b, READ_CHUNK)) {
                    oom = 1;
                    break;
                }
                ssize_t r = read(fd, b->data + b->len, READ_CHUNK);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0) {
                    if (idx[k] == 1)
                        p->out_eof = 1;
                    else
                        proc_close_fd(&p->err_fd);
                } else {
                    b->len += (size_t)r;
                }
            }
        }
        if (oom)
            break;
    }
    if (oom) {
        proc_buf_free(&err);
        return luaL_error(L, "proc: not enough memory for the output of process %d", (int)p->pid);
    }
    if (failed || timed_out) {
        proc_buf_free(&err);
        luaL_pushfail(L);
        if (timed_out)
            lua_pushliteral(L, "timeout");
        else
            lua_pushfstring(L, "cannot talk to process %d: %s", (int)p->pid, strerror(failed));
        return 2;
    }
    lua_pushlstring(L, p->out.data ? p->out.data : "", p->out.len);
    p->out.len = 0;
    lua_pushlstring(L, err.data ? err.data : "", err.len);
    proc_buf_free(&err);
    return 2;
}

/* ------------------------------------------------------------------------------- */
/* poll: which of several children have a line ready */

static int has_line(proc_t *p)
{
    return p->out_eof || (p->out.len && memchr(p->out.data, '\n', p->out.len) != NULL);
}

int proc_l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double deadline = proc_opt_deadline(L, 2);
    int n = (int)lua_rawlen(L, 1);
    luaL_argcheck(L, n <= 1024, 1, "at most 1024 processes");
    proc_t *ps[1024];
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        ps[i] = luaL_checkudata(L, -1, PROC_MT);
        if (ps[i]->closed)
            return luaL_error(L, "proc.poll: process %d is closed", i + 1);
        lua_pop(L, 1);
    }
    for (;;) {
        lua_newtable(L);
        int ready = 0;
        for (int i = 0; i < n; i++) {
            if (has_line(ps[i])) {
                lua_rawgeti(L, 1, i + 1);
                lua_rawseti(L, -2, ++ready);
            }
        }
        if (ready || n == 0)
            return 1;
        lua_pop(L, 1);
        struct pollfd pfd[1024];
        int map[1024], m = 0;
        for (int i = 0; i < n; i++) {
            if (ps[i]->out_fd >= 0) {
                pfd[m] = (struct pollfd){ps[i]->out_fd, POLLIN, 0};
                map[m++] = i;
            }
        }
        if (m == 0) {
            lua_newtable(L);
            return 1;
        }
        int rc = poll(pfd, (nfds_t)m, proc_poll_ms(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            luaL_pushfail(L);
            lua_pushfstring(L, "proc.poll: %s", strerror(errno));
            return 2;
        }
        if (rc == 0) {
            lua_newtable(L);
            return 1;
        }
        for (int k = 0; k < m; k++) {
            if (pfd[k].revents && fill(L, ps[map[k]], proc_now()) < 0)
                ps[map[k]]->out_eof = 1; /* a broken pipe reads as EOF */
        }
    }
}

const luaL_Reg proc_io_methods[] = {
    {"write", l_proc_write},
    {"close_stdin", l_proc_close_stdin},
    {"read_line", l_proc_read_line},
    {"read", l_proc_read},
    {"communicate", l_proc_communicate},
    {NULL, NULL},
};
