#!/usr/bin/env python3
"""tests/spark/test_compare.py -- sparkrun.compare scores rows the way BIRD/Spider
score execution accuracy. Pure Python (no Spark): prints TAP."""
import os
import sys
from datetime import date, datetime
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "py"))
import sparkrun  # noqa: E402

CASES = [
    ("equal rows in another order match",
     [(1, "a"), (2, "b")], [(2, "b"), (1, "a")], False, True),
    ("row order matters when asked",
     [(1, "a"), (2, "b")], [(2, "b"), (1, "a")], True, False),
    ("without names, columns are compared in order",
     [("a", 1), ("b", 2)], [(1, "a"), (2, "b")], False, False),
    ("duplicates count (multiset, not set)",
     [(1,), (1,)], [(1,)], False, False),
    ("Decimal and float within 1e-6 relative are equal",
     [(Decimal("1234.5600001"),)], [(1234.56,)], False, True),
    ("a difference of 0.01 on 100 is not within tolerance",
     [(100.01,)], [(100,)], False, False),
    ("a date equals the same day's midnight timestamp",
     [(date(2026, 1, 1),)], [(datetime(2026, 1, 1, 0, 0),)], False, True),
    ("a date is not a later time of the same day",
     [(date(2026, 1, 1),)], [(datetime(2026, 1, 1, 0, 0, 1),)], False, False),
    ("dates and timestamps compare by value",
     [(date(2026, 1, 1), datetime(2026, 1, 1, 7, 0))],
     [(date(2026, 1, 1), datetime(2026, 1, 1, 7, 0))], False, True),
    ("NULL equals NULL and nothing else",
     [(None, 1)], [(0, 1)], False, False),
    ("an extra column fails",
     [(1, 2)], [(1,)], False, False),
    ("two empty results match",
     [], [], False, True),
]

# (name, actual columns, actual rows, expected columns, expected rows, options, pass?)
NAMED = [
    ("named columns are matched by name whatever their order",
     ["Orders", "customer_id"], [(3, 1), (5, 2)], ["customer_id", "orders"], [(1, 3), (2, 5)], {}, True),
    ("two numeric columns swapped fail when the reference names them",
     ["customer_id", "orders", "avg_order_value"], [(1, 40.0, 3), (2, 25.0, 4)],
     ["customer_id", "orders", "avg_order_value"], [(1, 3, 40.0), (2, 4, 25.0)], {}, False),
    ("swapped columns pass only with match = positional",
     ["customer_id", "orders", "avg_order_value"], [(1, 40.0, 3), (2, 25.0, 4)],
     ["a", "b", "c"], [(1, 3, 40.0), (2, 4, 25.0)], {"match": "positional"}, True),
    ("map renames a result column before matching",
     ["cust", "n"], [(1, 3)], ["customer_id", "n"], [(1, 3)], {"column_map": {"cust": "customer_id"}}, True),
    ("a reference column missing from the result fails",
     ["customer_id"], [(1,)], ["customer_id", "orders"], [(1, 3)], {}, False),
    ("an extra result column fails",
     ["customer_id", "orders", "debug"], [(1, 3, 0)], ["customer_id", "orders"], [(1, 3)], {}, False),
]

print("1..%d" % (len(CASES) + len(NAMED) + 3))
n = 0
for name, actual, expected, ordered, want in CASES:
    n += 1
    got, diff = sparkrun.compare(actual, expected, ordered)
    print("%s %d - %s%s" % ("ok" if got == want else "not ok", n, name,
                             "" if got == want else " (diff: %s)" % diff))
for name, acols, actual, ecols, expected, opts, want in NAMED:
    n += 1
    got, diff = sparkrun.compare(actual, expected, actual_columns=acols, expected_columns=ecols, **opts)
    print("%s %d - %s%s" % ("ok" if got == want else "not ok", n, name,
                             "" if got == want else " (diff: %s)" % diff))
n += 1
got, diff = sparkrun.compare([(1,)], [(1, 3)], actual_columns=["customer_id"],
                             expected_columns=["customer_id", "orders"])
want = "missing column 'orders' (result columns: customer_id)"
print("%s %d - a missing column is named%s" % ("ok" if diff == want else "not ok", n,
                                               "" if diff == want else ": " + diff))
n += 1
got, diff = sparkrun.compare([(1,)], [(1,)], actual_columns=["x"], expected_columns=["?column?"])
ok = not got and "has no name" in diff
print("%s %d - an unnamed reference column is an error, not a silent fallback%s" % (
    "ok" if ok else "not ok", n, "" if ok else ": " + diff))
n += 1
got, diff = sparkrun.compare([(1, "a"), (3, "c")], [(1, "a"), (2, "b")])
want = "expected 2 rows, got 2, missing e.g. (2.0, 'b'), unexpected e.g. (3.0, 'c')"
print("%s %d - the diff names the counts and a differing row%s" % (
    "ok" if diff == want else "not ok", n, "" if diff == want else ": " + diff))
