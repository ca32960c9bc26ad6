/*
 * proc.c — sparkgen.proc: child processes with pipes, an exact environment and timeouts.
 *
 * io.popen gives one direction, inherits every variable sparkgen has (API keys
 * included) and cannot time out; os.execute goes through a shell. Long-lived helpers
 * (the code analyser, a warm Spark session) and jobs that must not see sparkgen's
 * secrets need more, so this file owns fork/exec for the engine.
 *
 * @function spawn{argv=, env=, cwd=, stdin=, stdout=, stderr=, detach=}
 *     argv   list of strings; argv[1] without "/" is searched on PATH (the child's
 *            PATH when env gives one, else ours)
 *     env    table name -> value: the child's whole environment (nil: inherit ours)
 *     cwd    directory to run in
 *     stdin  "pipe" | "null" | "inherit" (default "inherit"); stdout likewise;
 *     stderr "pipe" | "null" | "inherit" | "stdout"
 *     detach true: a daemon (own session, stdio from /dev/null unless given, never
 *            killed or reaped by us); returns its pid instead of a handle
 *   -> handle (userdata "sparkgen.proc") | nil, message (cannot start: not found,
 *      not executable, bad cwd)
 * @function poll(list_of_handles, timeout_s) -> list of the handles whose stdout holds
 *     a complete line or has reached EOF (empty list on timeout)
 * Methods:
 *   h.pid                                  (field, via __index)
 *   h:write(data) -> true | nil, message   all of data; EPIPE is an error, never SIGPIPE
 *   h:close_stdin()
 *   h:read_line(timeout_s?) -> line | nil, "timeout" | nil, "eof"
 *   h:read(timeout_s?) -> bytes (what is there, <= 64 KiB) | nil, "timeout" | nil, "eof"
 *   h:communicate(input?, timeout_s?) -> stdout, stderr | nil, "timeout"
 *   h:wait(timeout_s?) -> "exit", code | "signal", signo | nil, "timeout"
 *   h:kill(signo?) -> true | nil, message  (default SIGTERM)
 *   h:close()   closes the pipes; a child still running is killed (SIGKILL) and reaped.
 *               Also __gc and __close, so `local h <close> = proc.spawn{...}` works.
 * Timeouts are seconds (float); nil waits for ever. A closed handle raises on use.
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

#define PROC_MT "sparkgen.proc"
#define READ_CHUNK 65536

extern char **environ;

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    pid_t pid;
    int in_fd, out_fd, err_fd; /* -1 when not a pipe or closed */
    int reaped, status;
    int out_eof;
    int closed;
    buf_t out; /* stdout read ahead (lines not yet returned) */
} proc_t;

enum { MODE_INHERIT, MODE_PIPE, MODE_NULL, MODE_STDOUT };

/* ------------------------------------------------------------------------------- */
/* small helpers */

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before `deadline` for poll(): -1 = no deadline. */
static int poll_ms(double deadline)
{
    if (deadline < 0)
        return -1;
    double left = deadline - monotonic_now();
    if (left <= 0)
        return 0;
    if (left > 86400.0)
        return 86400 * 1000;
    return (int)(left * 1000.0) + 1;
}

/* Deadline from an optional timeout argument (seconds); -1 = none. */
static double opt_deadline(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return -1;
    double t = luaL_checknumber(L, idx);
    luaL_argcheck(L, t == t && t >= 0 && t <= 1e9, idx, "timeout must be a number of seconds >= 0");
    return monotonic_now() + t;
}

static int buf_reserve(buf_t *b, size_t extra)
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

static void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static proc_t *check_proc(lua_State *L)
{
    proc_t *p = luaL_checkudata(L, 1, PROC_MT);
    if (p->closed)
        luaL_error(L, "attempt to use a closed process handle");
    return p;
}

static int parse_mode(lua_State *L, int opts, const char *field, int def, int allow_stdout)
{
    lua_getfield(L, opts, field);
    int mode = def;
    if (!lua_isnil(L, -1)) {
        const char *s = luaL_checkstring(L, -1);
        if (strcmp(s, "pipe") == 0)
            mode = MODE_PIPE;
        else if (strcmp(s, "null") == 0)
            mode = MODE_NULL;
        else if (strcmp(s, "inherit") == 0)
            mode = MODE_INHERIT;
        else if (allow_stdout && strcmp(s, "stdout") == 0)
            mode = MODE_STDOUT;
        else
            luaL_error(L, "proc.spawn: %s must be \"pipe\", \"null\"%s or \"inherit\", got \"%s\"", field,
                       allow_stdout ? ", \"stdout\"" : "", s);
    }
    lua_pop(L, 1);
    return mode;
}

/* The strings of field `field` of the table at `opts` as a NULL-terminated vector in a
 * userdata block pushed on the stack (it and the strings stay alive until the caller
 * returns). argv: the list's strings. env: "k=v" strings, anchored in a table pushed
 * below the block. */
static char **string_vector(lua_State *L, int opts, const char *field, int is_env, int *count)
{
    lua_getfield(L, opts, field);
    int t = lua_gettop(L);
    luaL_argcheck(L, lua_istable(L, t), 1, is_env ? "env must be a table" : "argv must be a list of strings");
    size_t n = 0;
    if (is_env) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            n++;
            lua_pop(L, 1);
        }
        lua_createtable(L, (int)n, 0); /* anchors the "k=v" strings */
    } else {
        n = lua_rawlen(L, t);
        lua_pushnil(L); /* placeholder: argv's strings are anchored by the table itself */
    }
    int anchor = lua_gettop(L);
    char **vec = lua_newuserdatauv(L, (n + 1) * sizeof(char *), 0);
    size_t i = 0;
    if (is_env) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "proc.spawn: env must map names to strings");
            const char *k = lua_tostring(L, -2);
            if (*k == '\0' || strchr(k, '=') != NULL)
                luaL_error(L, "proc.spawn: bad environment variable name '%s'", k);
            lua_pushfstring(L, "%s=%s", k, lua_tostring(L, -1));
            vec[i] = (char *)lua_tostring(L, -1);
            lua_rawseti(L, anchor, (lua_Integer)++i);
            lua_pop(L, 1);
        }
    } else {
        for (i = 0; i < n; i++) {
            if (lua_rawgeti(L, t, (lua_Integer)i + 1) != LUA_TSTRING)
                luaL_error(L, "proc.spawn: argv[%d] must be a string", (int)i + 1);
            vec[i] = (char *)lua_tostring(L, -1); /* still referenced by the argv table */
            lua_pop(L, 1);
        }
    }
    vec[i] = NULL;
    *count = (int)i;
    return vec; /* stack: ..., field table, anchor, block */
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Resolve argv[0] on PATH (from envp when it has PATH, else ours) into out. */
static int find_program(const char *name, char **envp, char *out, size_t size)
{
    if (strchr(name, '/')) {
        snprintf(out, size, "%s", name);
        return is_executable(out);
    }
    const char *path = NULL;
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    if (path == NULL)
        path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int n = len == 0 ? snprintf(out, size, "./%s", name)
                         : snprintf(out, size, "%.*s/%s", (int)len, path, name);
        if (n > 0 && (size_t)n < size && is_executable(out))
            return 1;
        path += len + (colon ? 1 : 0);
    }
    return 0;
}

/* In the child: make fd `target` refer to what `mode` says (pipe end `pipe_end`). */
static int child_setup_fd(int target, int mode, int pipe_end, int null_flags)
{
    if (mode == MODE_PIPE)
        return dup2(pipe_end, target) < 0 ? -1 : 0;
    if (mode == MODE_NULL) {
        int fd = open("/dev/null", null_flags);
        if (fd < 0)
            return -1;
        if (fd != target) {
            if (dup2(fd, target) < 0)
                return -1;
            close(fd);
        }
    }
    return 0;
}

/* After fork, in the child: only async-signal-safe calls until exec. */
static void child_exec(const char *prog, char **argv, char **envp, const char *cwd, int modes[3],
                       int pipes[3][2], int errpipe, int detach)
{
    int err = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (detach && setsid() < 0)
        goto fail;
    if (child_setup_fd(0, modes[0], pipes[0][0], O_RDONLY) < 0 ||
        child_setup_fd(1, modes[1], pipes[1][1], O_WRONLY) < 0 ||
        (modes[2] == MODE_STDOUT ? dup2(1, 2) < 0 : child_setup_fd(2, modes[2], pipes[2][1], O_WRONLY) < 0))
        goto fail;
    /* Nothing else sparkgen holds open (sockets, cache files) reaches the child. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int fd = 3; fd < 1024; fd++)
            if (fd != errpipe)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (cwd && chdir(cwd) != 0)
        goto fail;
    if (envp)
        execve(prog, argv, envp);
    else
        execv(prog, argv);
fail:
    err = errno;
    (void)!write(errpipe, &err, sizeof err);
    _exit(127);
}

static void close_pipes(int pipes[3][2])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            close_fd(&pipes[i][j]);
}

/* ------------------------------------------------------------------------------- */
/* spawn */

static int l_proc_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int argc = 0, envc = 0;
    char **argv = string_vector(L, 1, "argv", 0, &argc);
    if (argc == 0)
        return luaL_error(L, "proc.spawn: argv must be a non-empty list of strings");
    lua_getfield(L, 1, "env");
    int has_env = !lua_isnil(L, -1);
    if (has_env)
        luaL_checktype(L, -1, LUA_TTABLE);
    lua_pop(L, 1);
    char **envp = has_env ? string_vector(L, 1, "env", 1, &envc) : NULL;
    lua_getfield(L, 1, "cwd");
    const char *cwd = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1); /* stays on the stack */
    lua_getfield(L, 1, "detach");
    int detach = lua_toboolean(L, -1);
    lua_pop(L, 1);
    int modes[3];
    modes[0] = parse_mode(L, 1, "stdin", detach ? MODE_NULL : MODE_INHERIT, 0);
    modes[1] = parse_mode(L, 1, "stdout", detach ? MODE_NULL : MODE_INHERIT, 0);
    modes[2] = parse_mode(L, 1, "stderr", detach ? MODE_NULL : MODE_INHERIT, 1);
    if (detach && (modes[0] == MODE_PIPE || modes[1] == MODE_PIPE || modes[2] == MODE_PIPE))
        return luaL_error(L, "proc.spawn: a detached process cannot have pipes");

    char prog[PATH_MAX];
    if (!find_program(argv[0], envp, prog, sizeof prog)) {
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot run %s: %s", argv[0],
                        strchr(argv[0], '/') ? "not an executable file" : "not found on PATH");
        return 2;
    }

    proc_t *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->in_fd = p->out_fd = p->err_fd = -1;
    p->pid = -1;
    p->closed = 1; /* until the child runs */
    luaL_setmetatable(L, PROC_MT);

    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    int errpipe[2] = {-1, -1};
    for (int i = 0; i < 3; i++) {
        if (modes[i] == MODE_PIPE && pipe2(pipes[i], O_CLOEXEC) != 0)
            goto sys_fail;
    }
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        goto sys_fail;

    pid_t pid = fork();
    if (pid < 0)
        goto sys_fail;
    if (pid == 0) {
        if (detach) {
            /* Double fork: the daemon is re-parented to init and never becomes our zombie. */
            pid_t again = fork();
            if (again < 0) {
                int err = errno;
                (void)!write(errpipe[1], &err, sizeof err);
                _exit(127);
            }
            if (again > 0)
                _exit(0);
        }
        close(errpipe[0]);
        child_exec(prog, argv, envp, cwd, modes, pipes, errpipe[1], detach);
    }
    close_fd(&errpipe[1]);
    int child_err = 0;
    ssize_t got;
    do {
        got = read(errpipe[0], &child_err, sizeof child_err);
    } while (got < 0 && errno == EINTR);
    close_fd(&errpipe[0]);

    if (detach) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        close_pipes(pipes);
        if (got > 0) {
            luaL_pushfail(L);
            lua_pushfstring(L, "cannot run %s: %s", argv[0], strerror(child_err));
            return 2;
        }
        lua_pushinteger(L, pid);
        return 1;
    }
    if (got > 0) { /* exec failed: the child wrote errno and exited 127 */
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        close_pipes(pipes);
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot run %s: %s", prog, strerror(child_err));
        return 2;
    }
    p->pid = pid;
    p->closed = 0;
    if (modes[0] == MODE_PIPE) {
        p->in_fd = pipes[0][1];
        pipes[0][1] = -1;
    }
    if (modes[1] == MODE_PIPE) {
        p->out_fd = pipes[1][0];
        pipes[1][0] = -1;
    }
    if (modes[2] == MODE_PIPE) {
        p->err_fd = pipes[2][0];
        pipes[2][0] = -1;
    }
    close_pipes(pipes);
    return 1;

sys_fail: {
        int err = errno;
        close_pipes(pipes);
        close_fd(&errpipe[0]);
        close_fd(&errpipe[1]);
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot start %s: %s", argv[0], strerror(err));
        return 2;
    }
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
    proc_t *p = check_proc(L);
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
    proc_t *p = check_proc(L);
    close_fd(&p->in_fd);
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
        int rc = poll(&pfd, 1, poll_ms(deadline));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (rc == 0)
            return 0;
        break;
    }
    if (!buf_reserve(&p->out, READ_CHUNK))
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

static int l_proc_read_line(lua_State *L)
{
    proc_t *p = check_proc(L);
    double deadline = opt_deadline(L, 2);
    if (p->out_fd < 0 && !p->out_eof && p->out.len == 0)
        return luaL_error(L, "proc: stdout is not a pipe");
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
            luaL_pushfail(L);
            lua_pushliteral(L, "eof");
            return 2;
        }
        int rc = fill(L, p, deadline);
        if (rc < 0)
            return read_error(L, p);
        if (rc == 0) {
            luaL_pushfail(L);
            lua_pushliteral(L, "timeout");
            return 2;
        }
    }
}

static int l_proc_read(lua_State *L)
{
    proc_t *p = check_proc(L);
    double deadline = opt_deadline(L, 2);
    if (p->out_fd < 0 && !p->out_eof && p->out.len == 0)
        return luaL_error(L, "proc: stdout is not a pipe");
    if (p->out.len == 0) {
        int rc = fill(L, p, deadline);
        if (rc < 0)
            return read_error(L, p);
        if (rc == 0) {
            luaL_pushfail(L);
            lua_pushliteral(L, "timeout");
            return 2;
        }
    }
    if (p->out.len == 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "eof");
        return 2;
    }
    size_t n = p->out.len < READ_CHUNK ? p->out.len : READ_CHUNK;
    lua_pushlstring(L, p->out.data, n);
    consume(p, n);
    return 1;
}

/* Write input, close stdin, read stdout and stderr to EOF: no pipe can fill up and
 * deadlock the child, whatever order it writes in. */
static int l_proc_communicate(lua_State *L)
{
    proc_t *p = check_proc(L);
    size_t in_len = 0;
    const char *input = luaL_optlstring(L, 2, NULL, &in_len);
    double deadline = opt_deadline(L, 3);
    if (input && p->in_fd < 0)
        return luaL_error(L, "proc: stdin is not an open pipe");
    size_t in_off = 0;
    if (!input)
        close_fd(&p->in_fd);
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
        int rc = poll(pfd, (nfds_t)n, poll_ms(deadline));
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
                    close_fd(&p->in_fd);
            } else {
                buf_t *b = idx[k] == 1 ? &p->out : &err;
                int fd = idx[k] == 1 ? p->out_fd : p->err_fd;
                if (!buf_reserve(b, READ_CHUNK)) {
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
                        close_fd(&p->err_fd);
                } else {
                    b->len += (size_t)r;
                }
            }
        }
        if (oom)
            break;
    }
    if (oom) {
        buf_free(&err);
        return luaL_error(L, "proc: not enough memory for the output of process %d", (int)p->pid);
    }
    if (failed || timed_out) {
        buf_free(&err);
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
    buf_free(&err);
    return 2;
}

/* ------------------------------------------------------------------------------- */
/* waiting and signalling */

static int push_status(lua_State *L, proc_t *p)
{
    if (WIFEXITED(p->status)) {
        lua_pushliteral(L, "exit");
        lua_pushinteger(L, WEXITSTATUS(p->status));
    } else {
        lua_pushliteral(L, "signal");
        lua_pushinteger(L, WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0);
    }
    return 2;
}

/* 1 reaped, 0 still running at the deadline, -1 error. */
static int reap(proc_t *p, double deadline)
{
    if (p->reaped)
        return 1;
    double sleep_s = 0.001;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, deadline < 0 ? 0 : WNOHANG);
        if (r == p->pid) {
            p->reaped = 1;
            p->status = st;
            return 1;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        double left = deadline - monotonic_now();
        if (left <= 0)
            return 0;
        double s = sleep_s < left ? sleep_s : left;
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        nanosleep(&ts, NULL);
        if (sleep_s < 0.05)
            sleep_s *= 2;
    }
}

static int l_proc_wait(lua_State *L)
{
    proc_t *p = check_proc(L);
    double deadline = opt_deadline(L, 2);
    int rc = reap(p, deadline);
    if (rc < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot wait for process %d: %s", (int)p->pid, strerror(errno));
        return 2;
    }
    if (rc == 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    return push_status(L, p);
}

static int l_proc_kill(lua_State *L)
{
    proc_t *p = check_proc(L);
    int sig = (int)luaL_optinteger(L, 2, SIGTERM);
    luaL_argcheck(L, sig > 0 && sig < 65, 2, "not a signal number");
    if (p->reaped) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (kill(p->pid, sig) != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot signal process %d: %s", (int)p->pid, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static void proc_release(proc_t *p)
{
    if (p->closed)
        return;
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    if (!p->reaped && p->pid > 0) {
        if (reap(p, monotonic_now()) == 0) { /* still running: it is ours to stop */
            kill(p->pid, SIGKILL);
            reap(p, -1);
        }
    }
    buf_free(&p->out);
    p->closed = 1;
}

static int l_proc_close(lua_State *L)
{
    proc_t *p = luaL_checkudata(L, 1, PROC_MT);
    proc_release(p);
    return 0;
}

static int l_proc_index(lua_State *L)
{
    proc_t *p = luaL_checkudata(L, 1, PROC_MT);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "pid") == 0) {
        lua_pushinteger(L, p->pid);
        return 1;
    }
    luaL_getmetafield(L, 1, "methods");
    lua_getfield(L, -1, key);
    return 1;
}

static int l_proc_tostring(lua_State *L)
{
    proc_t *p = luaL_checkudata(L, 1, PROC_MT);
    lua_pushfstring(L, "sparkgen.proc (%d%s)", (int)p->pid, p->closed ? ", closed" : "");
    return 1;
}

/* ------------------------------------------------------------------------------- */
/* poll: which of several children have a line ready */

static int has_line(proc_t *p)
{
    return p->out_eof || (p->out.len && memchr(p->out.data, '\n', p->out.len) != NULL);
}

static int l_proc_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double deadline = opt_deadline(L, 2);
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
        int rc = poll(pfd, (nfds_t)m, poll_ms(deadline));
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
            if (pfd[k].revents && fill(L, ps[map[k]], monotonic_now()) < 0)
                ps[map[k]]->out_eof = 1; /* a broken pipe reads as EOF */
        }
    }
}

static const luaL_Reg proc_methods[] = {
    {"write", l_proc_write},
    {"close_stdin", l_proc_close_stdin},
    {"read_line", l_proc_read_line},
    {"read", l_proc_read},
    {"communicate", l_proc_communicate},
    {"wait", l_proc_wait},
    {"kill", l_proc_kill},
    {"close", l_proc_close},
    {NULL, NULL},
};

static const luaL_Reg proc_functions[] = {
    {"spawn", l_proc_spawn},
    {"poll", l_proc_poll},
    {NULL, NULL},
};

int luaopen_sparkgen_proc(lua_State *L)
{
    if (luaL_newmetatable(L, PROC_MT)) {
        luaL_newlib(L, proc_methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, l_proc_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_proc_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_proc_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_proc_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, proc_functions);
    return 1;
}
