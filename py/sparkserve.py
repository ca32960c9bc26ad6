#!/usr/bin/env python3
"""sparkserve.py -- a long-lived local Spark session that sparkgen talks to over pipes
(lua/sparkgen/sparkserver.lua), so a JVM is started once per sparkgen process and
every later request costs only its own work.

    python3 sparkserve.py [--log FILE]

Requests are JSON lines on stdin, answers JSON lines on stdout (the protocol channel is
a private copy of stdout: anything else writing to fd 1 or 2 -- the JVM, Ivy, a body's
print -- goes to --log, or to /dev/null without it):

    {"op": "start"}                  -> {"event": "ready", "seconds": s}
    {"op": "run", "cases": [...]}    -> {"event": "start", "name": n} before each case,
                                        {"event": "result", ...sparkrun.run_cases's dict}
                                        after it, then {"event": "end"}
    {"op": "plan", "job": path, "tables": {...}, "body_offset": n}
                                     -> {"event": "plan", "ok": bool, "columns": [...],
                                        "findings": [...], "warnings": [...], "seconds": s}
                                        (plancheck.py: empty tables, no data read)
    {"op": "sample", "job": path, "tables": {...}, "sample_rows": n}
                                     -> {"event": "sample", ...samplerun.run's dict}
                                        (the job on the first n rows of each table,
                                        read once per session and cached)
    anything that fails              -> {"event": "error", "message": first line}

The session is created on the first request that needs it (JDBC settings and packages
from the environment exactly as sparkrun.session reads them). EOF on stdin ends it.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    log = None
    if len(argv) == 2 and argv[0] == "--log":
        log = argv[1]
    elif argv:
        print("usage: sparkserve.py [--log FILE]", file=sys.stderr)
        return 2
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    sink = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)

    import sparkrun
    if not os.environ.get("SPARKGEN_JDBC_FILE"):
        # A session for the plan check only: no credentials were handed over, and
        # nothing can be read (empty JDBC options, no driver on the classpath).
        sparkrun._taken["options"] = {}
    state = {"spark": None, "samples": {}}

    def send(obj):
        proto.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
        proto.flush()

    def spark():
        if state["spark"] is None:
            state["spark"] = sparkrun.session(app="sparkgen-server")
        return state["spark"]

    for line in sys.stdin:
        if not line.strip():
            continue
        started = time.monotonic()
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "start":
                spark()
                send({"event": "ready", "seconds": round(time.monotonic() - started, 3)})
            elif op == "run":
                session = spark()
                cases = req.get("cases") or []
                for case, result in zip(cases, sparkrun.run_cases(session, cases, on_start=lambda c: send(
                        {"event": "start", "name": c.get("name")}))):
                    result["event"] = "result"
                    send(result)
                send({"event": "end"})
            elif op == "plan":
                import plancheck
                out = plancheck.check(spark(), req["job"], req.get("tables") or {},
                                      body_offset=req.get("body_offset") or 0)
                out["event"] = "plan"
                out["seconds"] = round(time.monotonic() - started, 3)
                send(out)
            elif op == "sample":
                import samplerun
                out = samplerun.run(spark(), req["job"], req.get("tables") or {}, int(req.get("sample_rows") or 1000),
                                    state["samples"])
                out["event"] = "sample"
                out["seconds"] = round(time.monotonic() - started, 3)
                send(out)
            else:
                send({"event": "error", "message": "unknown op %r" % (op,)})
        except Exception as exc:  # report and keep serving
            send({"event": "error", "message": sparkrun.first_line(exc)})
    if state["spark"] is not None:
        state["spark"].stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
