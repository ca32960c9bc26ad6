/*
 * proc.h — sparkgen.proc: child processes with pipes, an exact environment and timeouts.
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
 *
 * Two files implement it: proc_spawn.c starts, waits for, signals and releases
 * children (and opens the module); proc_io.c talks to them through their pipes (write,
 * read, communicate, poll). This header is what they share; nothing outside them
 * includes it.
 */
#ifndef SPARKGEN_PROC_H
#define SPARKGEN_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include <lua.h>
#include <lauxlib.h>

#define PROC_MT "sparkgen.proc"
#define READ_CHUNK 65536

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

/* proc_io.c: deadlines, buffers, descriptors and the handle check both files use */
double proc_now(void);                          /* CLOCK_MONOTONIC, seconds */
int proc_poll_ms(double deadline);              /* ms left for poll(); -1 = no deadline */
double proc_opt_deadline(lua_State *L, int idx); /* from an optional timeout argument; -1 = none */
int proc_buf_reserve(buf_t *b, size_t extra);   /* 0 = out of memory */
void proc_buf_free(buf_t *b);
void proc_close_fd(int *fd);                    /* closes *fd if open and sets it to -1 */
proc_t *proc_check(lua_State *L);               /* argument 1 as an open handle, or raises */

/* proc_io.c: the pipe methods and proc.poll, registered by luaopen_sparkgen_proc */
extern const luaL_Reg proc_io_methods[];
int proc_l_poll(lua_State *L);

#endif
