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
    ("column order is ignored",
     [("a", 1), ("b", 2)], [(1, "a"), (2, "b")], False, True),
    ("duplicates count (multiset, not set)",
     [(1,), (1,)], [(1,)], False, False),
    ("Decimal and float within 1e-6 relative are equal",
     [(Decimal("1234.5600001"),)], [(1234.56,)], False, True),
    ("a difference of 0.01 on 100 is not within tolerance",
     [(100.01,)], [(100,)], False, False),
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

print("1..%d" % (len(CASES) + 1))
n = 0
for name, actual, expected, ordered, want in CASES:
    n += 1
    got, diff = sparkrun.compare(actual, expected, ordered)
    print("%s %d - %s%s" % ("ok" if got == want else "not ok", n, name,
                             "" if got == want else " (diff: %s)" % diff))
n += 1
got, diff = sparkrun.compare([(1, "a"), (3, "c")], [(1, "a"), (2, "b")])
want = "expected 2 rows, got 2, missing e.g. (2.0, 'b'), unexpected e.g. (3.0, 'c')"
print("%s %d - the diff names the counts and a differing row%s" % (
    "ok" if diff == want else "not ok", n, "" if diff == want else ": " + diff))
