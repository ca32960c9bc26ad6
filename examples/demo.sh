#!/usr/bin/env bash
# examples/demo.sh — `make demo`: sparkgen end to end, offline, in under a minute.
#  1. generate code for a built-in type from the example shop snapshot (no model, no key);
#  2. write the complete runnable job and check that Python compiles it;
#  3. when PostgreSQL server binaries are present: start a throwaway cluster with the shop
#     database, generate against the live catalog, and stop the cluster again.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-./sparkgen}
export SPARKGEN_HOME=${SPARKGEN_HOME:-$PWD}
work=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-demo.XXXXXX")
chmod 755 "$work"
export TEST_TMP="$work" XDG_CACHE_HOME="$work/cache"
cleanup() { tests/lib/pg.sh stop-all >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Transformation types"
"$SPARKGEN" types

say "sparkgen generate orders revenue_by_category --context time_period=last_month (offline snapshot)"
"$SPARKGEN" generate orders revenue_by_category --context time_period=last_month \
  --schema examples/shop/schema.json

say "The same request as a complete job: $work/revenue_by_category.py"
"$SPARKGEN" generate orders revenue_by_category --context time_period=last_month \
  --schema examples/shop/schema.json --job "$work/revenue_by_category.py"
python3 -m py_compile "$work/revenue_by_category.py" && echo "py_compile: ok"

if tests/lib/pg.sh available 2>/dev/null; then
  say "Live path: a throwaway PostgreSQL with the shop database"
  conninfo=$(tests/lib/pg.sh db shop examples/shop/schema.sql)
  "$SPARKGEN" schema --db "$conninfo"
  say "sparkgen generate customers top_customers --context limit=5 (live catalog)"
  "$SPARKGEN" generate customers top_customers --context limit=5 --db "$conninfo"
  tests/lib/pg.sh stop-all >/dev/null
  echo "(cluster stopped)"
else
  say "Live path skipped: no PostgreSQL server binaries (apt-get install postgresql)"
fi
say "Done. The binary is $SPARKGEN"
echo "Put sparkgen on your PATH (with its shell completions and man page):"
echo "  make install PREFIX=~/.local     # then: export PATH=\"\$HOME/.local/bin:\$PATH\""
echo "  sudo make install                # or system-wide, under /usr/local"
echo "Next: 'make test', 'sparkgen --help', 'sparkgen init', README.md"
