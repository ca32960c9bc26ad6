"""sparkcompare.py -- execution-accuracy comparison of a result with a reference, the
way BIRD/Spider score it, without Spark (used by sparkrun.py; tests/spark/test_compare.py).

    ok, diff = compare(actual_rows, expected_rows, ordered=False,
                       actual_columns=None, expected_columns=None,
                       match="name", column_map=None)

Rows are a multiset (row order only when `ordered`), numbers are equal within a relative
tolerance, a date equals the same day's midnight timestamp, NULL equals only NULL.

Columns:
  match="name" (the default): when the reference names its columns, every reference
      column is found in the result by name, case-insensitively, after `column_map`
      ({result name: reference name}) renamed the result's columns; a missing, extra or
      ambiguous column is a failure that names it. A reference without names
      (expected rows given without `columns`) is compared column by column in order.
      No permutation is ever tried, so two swapped numeric columns fail.
  match="positional": names are ignored and the result's columns may come in any
      order (the columns are paired by their values, then every permutation of up to
      five columns is tried) -- only when the case asks for it.
"""
import itertools
import math
from datetime import date, datetime
from decimal import Decimal

REL_TOL = 1e-6
MATCHES = ("name", "positional")
UNNAMED = "?column?"  # what PostgreSQL calls an expression without an alias


def norm(value):
    """A comparable form: numbers as floats, dates as midnight timestamps in ISO text."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(norm(v) for v in value)
    return str(value)


def _close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), 1e-9)
    return a == b


def sort_key(row):
    # Numbers rounded for sorting only (equality is judged by _close); None sorts first.
    return tuple((0, "") if v is None else
                 (1, "%.9g" % v) if isinstance(v, float) else (2, str(v)) for v in row)


def _rows_match(actual, expected, ordered):
    if len(actual) != len(expected):
        return False
    if not ordered:
        actual = sorted(actual, key=sort_key)
        expected = sorted(expected, key=sort_key)
    if all(all(_close(a, b) for a, b in zip(ra, rb)) for ra, rb in zip(actual, expected)):
        return True
    if ordered:
        return False
    # Sorting can pair near-equal rows differently; fall back to greedy matching.
    remaining = list(expected)
    for ra in actual:
        for i, rb in enumerate(remaining):
            if all(_close(a, b) for a, b in zip(ra, rb)):
                del remaining[i]
                break
        else:
            return False
    return True


def _permutations(actual, expected):
    """Column orders of the actual rows worth trying (match="positional"): as given,
    then columns paired by equal value multisets, then (few columns only) every one."""
    n = len(expected[0])
    identity = tuple(range(n))
    yield identity

    def signature(rows, i):
        return sorted(sort_key((r[i],)) for r in rows)
    order, used = [], set()
    for j in range(n):
        want = signature(expected, j)
        free = [i for i in range(n) if i not in used]
        pick = next((i for i in free if signature(actual, i) == want), free[0])
        used.add(pick)
        order.append(pick)
    if tuple(order) != identity:
        yield tuple(order)
    if n <= 5:
        for perm in itertools.permutations(range(n)):
            if perm != identity and perm != tuple(order):
                yield perm


def column_order(actual_columns, expected_columns, column_map=None):
    """The index in the result of each reference column, matched by name
    (case-insensitive, after column_map). Returns (order, None) or (None, reason)."""
    renames = {str(k).lower(): str(v).lower() for k, v in (column_map or {}).items()}
    known = {c.lower() for c in actual_columns}
    for k in renames:
        if k not in known:
            return None, "map names column '%s', which the result does not have (result columns: %s)" % (
                k, ", ".join(actual_columns))
    names = [renames.get(c.lower(), c.lower()) for c in actual_columns]
    order = []
    for j, want in enumerate(expected_columns):
        if want is None or want == UNNAMED:
            return None, ("reference column %d has no name: give it an alias, or set "
                          "match = \"positional\"" % (j + 1))
        hits = [i for i, n in enumerate(names) if n == want.lower()]
        if not hits:
            return None, "missing column '%s' (result columns: %s)" % (want, ", ".join(actual_columns))
        if len(hits) > 1:
            return None, "column '%s' appears %d times in the result" % (want, len(hits))
        order.append(hits[0])
    wanted = {w.lower() for w in expected_columns}
    extra = [actual_columns[i] for i, n in enumerate(names) if n not in wanted]
    if extra:
        return None, "unexpected column%s %s (the reference has %s)" % (
            "s" if len(extra) > 1 else "", ", ".join("'%s'" % e for e in extra), ", ".join(expected_columns))
    return order, None


def compare(actual, expected, ordered=False, limit=3, actual_columns=None,
            expected_columns=None, match="name", column_map=None):
    """Execution-accuracy comparison. Returns (True, "") or (False, short diff)."""
    if match not in MATCHES:
        raise ValueError("match must be one of %s, got %r" % (", ".join(MATCHES), match))
    act = [tuple(norm(v) for v in row) for row in actual]
    exp = [tuple(norm(v) for v in row) for row in expected]
    orders = None
    if match == "name" and expected_columns and actual_columns is not None:
        order, reason = column_order(list(actual_columns), list(expected_columns), column_map)
        if order is None:
            return False, reason
        orders = [tuple(order)]
    width_a = {len(r) for r in act} or ({len(actual_columns)} if actual_columns else set())
    width_e = {len(r) for r in exp} or ({len(expected_columns)} if expected_columns else set())
    if width_a and width_e and width_a != width_e and orders is None:
        return False, "expected %s columns, got %s" % (sorted(width_e)[0], sorted(width_a)[0])
    if not act or not exp:
        if len(act) == len(exp):
            return True, ""
        return False, "expected %d rows, got %d" % (len(exp), len(act))
    if orders is None:
        orders = _permutations(act, exp) if match == "positional" else [tuple(range(len(exp[0])))]
    first = None
    for order in orders:
        permuted = [tuple(r[i] for i in order) for r in act]
        first = permuted if first is None else first
        if _rows_match(permuted, exp, ordered):
            return True, ""
    # Report against the first column order tried: counts and a few rows on either side.
    missing = [r for r in exp if r not in first][:limit]
    extra = [r for r in first if r not in exp][:limit]
    parts = ["expected %d rows, got %d" % (len(exp), len(act))]
    if missing:
        parts.append("missing e.g. " + "; ".join(repr(r) for r in missing))
    if extra:
        parts.append("unexpected e.g. " + "; ".join(repr(r) for r in extra))
    if ordered and not missing and not extra:
        parts.append("same rows in a different order")
    return False, ", ".join(parts)
