/*
 * proc_spawn.c — sparkgen.proc's children: start (fork/exec with pipes, an exact
 * environment, a working directory, or detached), wait, signal and release them, and
 * the module's tables. The API is described in proc.h; the pipes are proc_io.c's.
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

extern char **environ;

enum { MODE_INHERIT, MODE_PIPE, MODE_NULL, MODE_STDOUT };

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
            proc_close_fd(&pipes[i][j]);
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
    proc_close_fd(&errpipe[1]);
    int child_err = 0;
    ssize_t got;
    do {
        got = read(errpipe[0], &child_err, sizeof child_err);
    } while (got < 0 && errno == EINTR);
    proc_close_fd(&errpipe[0]);

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
        proc_close_fd(&errpipe[0]);
        proc_close_fd(&errpipe[1]);
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot start %s: %s", argv[0], strerror(err));
        return 2;
    }
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
        double left = deadline - proc_now();
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
    proc_t *p = proc_check(L);
    double deadline = proc_opt_deadline(L, 2);
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
    proc_t *p = proc_check(L);
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
    proc_close_fd(&p->in_fd);
    proc_close_fd(&p->out_fd);
    proc_close_fd(&p->err_fd);
    if (!p->reaped && p->pid > 0) {
        if (reap(p, proc_now()) == 0) { /* still running: it is ours to stop */
            kill(p->pid, SIGKILL);
            reap(p, -1);
        }
    }
    proc_buf_free(&p->out);
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

static const luaL_Reg proc_methods[] = {
    {"wait", l_proc_wait},
    {"kill", l_proc_kill},
    {"close", l_proc_close},
    {NULL, NULL},
};

static const luaL_Reg proc_functions[] = {
    {"spawn", l_proc_spawn},
    {"poll", proc_l_poll},
    {NULL, NULL},
};

int luaopen_sparkgen_proc(lua_State *L)
{
    if (luaL_newmetatable(L, PROC_MT)) {
        luaL_newlib(L, proc_methods);
        luaL_setfuncs(L, proc_io_methods, 0);
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
