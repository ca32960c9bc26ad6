#!/usr/bin/env bash
# tests/lib/pg.sh — a throwaway PostgreSQL cluster for the test suites and the bench.
#
#   tests/lib/pg.sh available              exit 0 when the server binaries exist
#   tests/lib/pg.sh db NAME [SQLFILE...]   start the cluster (once), create database NAME
#                                          (loading the SQL files when it is created) and
#                                          print one libpq key=value conninfo line
#   tests/lib/pg.sh role NAME PASSWORD     create a login role that must authenticate
#                                          with its password (scram) and print nothing
#   tests/lib/pg.sh stop-all               stop the cluster (tests/run.sh's EXIT trap)
#
# The cluster lives under $SPARKGEN_PG_DIR (default "$TEST_TMP/pg"), listens on a Unix
# socket only (listen_addresses=''), trusts local connections except for the members of
# the role "password_login", and runs with fsync off: it is disposable. Concurrent callers
# share one cluster (flock). As root, the server runs as `nobody` because PostgreSQL
# refuses to run as root.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: pg.sh available | db NAME [SQLFILE...] | role NAME PASSWORD | stop-all"

if [ "$cmd" = available ]; then
  bindir >/dev/null && command -v psql >/dev/null 2>&1
  exit $?
fi

if [ -n "${SPARKGEN_PG_DIR:-}" ]; then
  ROOT=$SPARKGEN_PG_DIR
elif [ -n "${TEST_TMP:-}" ]; then
  ROOT=$TEST_TMP/pg
else
  die "set TEST_TMP (tests/run.sh does) or SPARKGEN_PG_DIR"
fi
DATA=$ROOT/data
PORT=${SPARKGEN_PG_PORT:-5432}
# A Unix socket path must fit in 107 bytes; under a long TMPDIR the socket directory
# moves to a short one under /tmp, remembered in $ROOT/sockdir.
if [ -f "$ROOT/sockdir" ]; then
  SOCK=$(cat "$ROOT/sockdir")
elif [ ${#ROOT} -le 70 ]; then
  SOCK=$ROOT/sock
else
  mkdir -p "$ROOT"
  SOCK=$(mktemp -d /tmp/sgpg.XXXXXX)
  chmod 755 "$SOCK"
  echo "$SOCK" >"$ROOT/sockdir"
fi

# Run a server-side command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$ROOT" && runuser -u nobody -- "$@")
  else
    "$@"
  fi
}

psql_admin() {   # psql_admin DBNAME [psql args...]
  local db=$1; shift
  psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d "$db" "$@"
}

running() {
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start_cluster() {
  mkdir -p "$ROOT"
  exec 8>"$ROOT/start.lock"
  flock 8
  if running; then flock -u 8; return 0; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA" "$SOCK"
    if [ "$(id -u)" -eq 0 ]; then chown nobody "$ROOT" "$DATA" "$SOCK"; fi
    chmod 700 "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync \
      -E UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 \
      || { cat "$ROOT/initdb.log" >&2; die "initdb failed"; }
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 64MB
log_min_messages = warning
password_encryption = 'scram-sha-256'
EOF
    # Members of password_login must give their password; everyone else is trusted.
    cat >"$DATA/pg_hba.conf" <<EOF
local all +password_login scram-sha-256
local all all trust
EOF
  fi
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 start >/dev/null 2>&1 \
    || { tail -20 "$ROOT/server.log" >&2 || true; die "the server did not start"; }
  psql_admin postgres -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'password_login') THEN
        CREATE ROLE password_login NOLOGIN;
      END IF; END \$\$;" >/dev/null
  flock -u 8
}

case "$cmd" in
  db)
    name=${2:-}
    [ -n "$name" ] || die "usage: pg.sh db NAME [SQLFILE...]"
    shift 2
    for f in "$@"; do [ -r "$f" ] || die "cannot read $f"; done
    BIN=$(bindir) || die "no PostgreSQL server binaries (initdb, pg_ctl) found"
    start_cluster
    # One loader per database at a time; others wait and then see it loaded.
    exec 9>"$ROOT/db.lock"
    flock 9
    # psql interpolates :'var' only in script input, not in -c.
    exists=$(psql_admin postgres -tA -v name="$name" \
      <<<"SELECT 1 FROM pg_database WHERE datname = :'name'")
    if [ "$exists" != 1 ]; then
      psql_admin postgres -v name="$name" <<<'CREATE DATABASE :"name"' >/dev/null
      for f in "$@"; do
        if ! psql_admin "$name" -f "$f" >"$ROOT/load.log" 2>&1; then
          psql_admin postgres -v name="$name" <<<'DROP DATABASE :"name"' >/dev/null 2>&1 || true
          grep -m5 -i error "$ROOT/load.log" >&2 || true
          die "loading $f into $name failed"
        fi
      done
    fi
    flock -u 9
    printf 'host=%s port=%s dbname=%s user=postgres\n' "$SOCK" "$PORT" "$name"
    ;;
  role)
    rname=${2:-}; rpass=${3:-}
    [ -n "$rname" ] && [ -n "$rpass" ] || die "usage: pg.sh role NAME PASSWORD"
    BIN=$(bindir) || die "no PostgreSQL server binaries (initdb, pg_ctl) found"
    start_cluster
    # A throwaway test password for the wrong-password tests, never a real secret.
    psql_admin postgres -v rname="$rname" -v rpass="$rpass" >/dev/null <<'EOF'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rname') AS missing \gset
\if :missing
CREATE ROLE :"rname" LOGIN PASSWORD :'rpass' IN ROLE password_login;
\else
ALTER ROLE :"rname" PASSWORD :'rpass';
\endif
EOF
    ;;
  stop-all)
    BIN=$(bindir) || exit 0
    if [ -f "$DATA/postmaster.pid" ]; then
      as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$ROOT/sockdir" ]; then rm -rf "$(cat "$ROOT/sockdir")"; fi
    ;;
  *)
    die "unknown command '$cmd'"
    ;;
esac
