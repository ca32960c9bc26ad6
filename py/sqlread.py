"""sqlread.py - read SQL text the way Spark 4.3 reads it, and report facts about it.

    import sqlread; sqlread.read(text, statement=True) -> facts (a dict, JSON-ready)

The one reader of SQL text in sparkgen: every string that reaches Spark's SQL parser
(spark.sql, F.expr, selectExpr, filter/where strings, agg dict values, call_function
names) is tokenized here. The lexer follows Spark's SqlBaseLexer.g4 (Spark 4.3):
keywords and function names in any case; backquoted identifiers with `` escapes;
'...' and "..." string literals with backslash escapes (unescaped like Spark's
unescapeSQLString, \\uXXXX included), raw r'...' strings, adjacent literals joined;
-- line comments (a backslash-newline continues them); /* block comments */ NESTED,
an unterminated one is an error; /*+ hints */; Spark's whitespace set; identifiers of
Unicode letters, digits and underscores (they may start with a digit) and the
scheme:// form; IDENTIFIER('name') clauses. Text Spark rewrites before lexing
(${var} substitution reads the configuration, the JVM's system properties and the
environment) is reported, not read.

This module reports facts, it never judges: lua/sparkgen/lint.lua decides which
functions, relations and statements are allowed. Anything the reader cannot follow is
an `error` (the caller must treat the text as failing), never a guess.

facts = {
  kind        first keyword of the statement ("SELECT", "WITH", "SET", ...), leading
              parentheses skipped; null for an empty text
  query       true when the text is one SELECT/WITH/(...) query (trailing ; allowed)
  statements  number of statements (separated by ;)
  denied      write/DDL keywords seen anywhere (INSERT, DROP, ...), upper case
  error       null or a message: why the text cannot be read
  functions   [{name, qualifier, offset, args}]  calls: name is the last part, lower
              case, unquoted; qualifier the lower-cased parts before it joined by "."
              (null when unqualified); args = false for name(); current_date and the
              other parameterless keywords count as calls
  relations   [{name, offset}]  FROM/JOIN/comma-list tables (lower case, dotted)
  table_functions [{name, qualifier, offset}]  calls in a relation position
  ctes        [names]           WITH names (lower case)
  script      true for TRANSFORM/MAP/REDUCE ... USING 'command' (runs a program)
  substitution true when the text contains ${...}
  hints       [names]           /*+ NAME(...) */ hint names, upper case
  identifiers [{qualifier, name}] column-like references (not functions, keywords,
              aliases, lambda variables or named-argument names)
  aliases     [names]           names after AS
  placeholders [{offset, where}] interpolated values (PLACEHOLDER characters) and
              where they sit: "value" or "string"
}
"""
import re

# An interpolated value (an f-string {placeholder}) is passed to the reader as this
# character; the caller decides which placeholders may appear at all.
PLACEHOLDER = "\ue000"

WS = set(" \t\n\f\r\u000b\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
         "\u2007\u2008\u2009\u200a\u2028\u202f\u205f\u3000")
DIGITS = set("0123456789")
URI_CHARS = set("_/-.?=&#%") | DIGITS
OPERATORS = ["<=>", ">>>", "<>", "!=", "<=", ">=", "!>", "!<", "==", "=>", "->", "||",
             "::", "<<", ">>", "*/"]
SINGLE = set("(),.[]!=<>+-*/%~&|^:?;")
NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)(E[+-]?\d+)?(BD|[LSYDF])?", re.I)


class SqlError(Exception):
    def __init__(self, msg, offset):
        Exception.__init__(self, msg)
        self.msg = msg
        self.offset = offset


class Tok:
    __slots__ = ("kind", "value", "offset", "quoted", "upper")

    def __init__(self, kind, value, offset, quoted=False):
        self.kind = kind        # ident, string, number, op, hint, placeholder
        self.value = value
        self.offset = offset
        self.quoted = quoted    # a backquoted identifier; a string holding a placeholder
        self.upper = value.upper() if kind == "ident" and not quoted else None

    def kw(self, *words):
        return self.upper is not None and self.upper in words

    def op(self, *ops):
        return self.kind == "op" and self.value in ops


def is_letter(c):
    return c.isalpha()


def is_word(c):
    return c.isalpha() or c in DIGITS or c == "_"


def unescape(body):
    """A quoted literal's value, the way Spark's unescapeSQLString reads it."""
    out, i, n = [], 0, len(body)
    simple = {"0": "\0", "'": "'", '"': '"', "b": "\b", "n": "\n", "r": "\r", "t": "\t",
              "Z": "\x1a", "\\": "\\", "%": "\\%", "_": "\\_"}
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        d = body[i + 1]
        if d == "u" and re.match(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]) and len(body[i + 2:i + 6]) == 4:
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif re.match(r"[0-3][0-7][0-7]", body[i + 1:i + 4]) and len(body[i + 1:i + 4]) == 3:
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(simple.get(d, d))
            i += 2
    return "".join(out)


def tokenize(text):
    """Tokens of `text` without whitespace and comments; SqlError when it cannot."""
    toks, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in WS:
            i += 1
        elif text.startswith("--", i):
            while i < n and text[i] not in "\r\n":
                if text[i] == PLACEHOLDER:
                    raise SqlError("an interpolated value inside a SQL comment", i)
                i += 2 if text.startswith("\\\n", i) else 1
        elif text.startswith("/*+", i):
            toks.append(Tok("hint", "/*+", i))
            i += 3
        elif text.startswith("/*", i):
            start, depth, i = i, 1, i + 2
            while depth and i < n:
                if text.startswith("*/", i):
                    depth -= 1
                    i += 2
                elif text.startswith("/*", i) and not text.startswith("/*+", i):
                    depth += 1
                    i += 2
                else:
                    if text[i] == PLACEHOLDER:
                        raise SqlError("an interpolated value inside a SQL comment", i)
                    i += 1
            if depth:
                raise SqlError("unterminated /* comment */", start)
        elif c in "'\"" or (c in "rR" and i + 1 < n and text[i + 1] in "'\""
                             and not (toks and toks[-1].kind == "ident" and toks[-1].offset + len(toks[-1].value) == i
                                      and not toks[-1].quoted)):
            raw = c in "rR"
            q = text[i + 1] if raw else c
            j = i + (2 if raw else 1)
            while j < n and text[j] != q:
                j += 2 if (text[j] == "\\" and not raw) else 1
            if j >= n:
                raise SqlError("unterminated string literal", i)
            body = text[i + (2 if raw else 1):j]
            value = body if raw else unescape(body)
            toks.append(Tok("string", value, i, quoted=PLACEHOLDER in body))
            i = j + 1
        elif c == "`":
            j, parts = i + 1, []
            while True:
                k = text.find("`", j)
                if k < 0:
                    raise SqlError("unterminated `quoted identifier`", i)
                parts.append(text[j:k])
                if text.startswith("``", k):
                    parts.append("`")
                    j = k + 2
                    continue
                break
            name = "".join(parts)
            if PLACEHOLDER in name:
                raise SqlError("an interpolated value inside a `quoted identifier`", i)
            toks.append(Tok("ident", name, i, quoted=True))
            i = k + 1
        elif c in DIGITS or (c == "." and i + 1 < n and text[i + 1] in DIGITS
                             and not (toks and (toks[-1].kind == "ident" or toks[-1].op(")", "]")))):
            m = NUMBER.match(text, i)
            end = m.end()
            if end < n and is_word(text[end]):
                if "." in m.group(0):
                    raise SqlError("cannot read the number %r" % text[i:end + 1], i)
                j = i
                while j < n and is_word(text[j]):
                    j += 1
                toks.append(Tok("ident", text[i:j], i))
                i = j
            else:
                toks.append(Tok("number", m.group(0), i))
                i = end
        elif is_word(c):
            j = i
            while j < n and is_word(text[j]):
                j += 1
            if text.startswith("://", j) and all(is_letter(x) for x in text[i:j]):
                j += 3
                while j < n and (is_letter(text[j]) or text[j] in URI_CHARS):
                    j += 1
            toks.append(Tok("ident", text[i:j], i))
            i = j
        elif c == PLACEHOLDER:
            toks.append(Tok("placeholder", c, i))
            i += 1
        else:
            for o in OPERATORS:
                if text.startswith(o, i):
                    toks.append(Tok("op", o, i))
                    i += len(o)
                    break
            else:
                if c not in SINGLE:
                    raise SqlError("unexpected character %r in SQL text" % c, i)
                toks.append(Tok("op", c, i))
                i += 1
    return toks


# Words that, unquoted and alone, are SQL syntax rather than a function call when "("
# follows: IN (...), OVER (...), CAST(x AS DECIMAL(10, 2)), GROUP BY ROLLUP(...).
SYNTAX_BEFORE_PAREN = set("""
IN EXISTS AS OVER FROM JOIN VALUES AND OR NOT ON USING FILTER WITHIN CAST TRY_CAST
EXTRACT DECIMAL DEC NUMERIC VARCHAR CHAR CHARACTER INTERVAL TABLE ROLLUP CUBE SETS BY
WHEN THEN ELSE WHERE HAVING SELECT LATERAL PIVOT UNPIVOT FOR WINDOW LIKE ILIKE RLIKE
REGEXP ANY SOME ALL BETWEEN IS CASE TABLESAMPLE WITH LIMIT OFFSET DISTINCT UNION
INTERSECT EXCEPT MINUS RECURSIVE PARTITION ORDER GROUP RETURN
""".split())
# FROM inside these calls is syntax: EXTRACT(YEAR FROM ts), TRIM(BOTH 'x' FROM s).
FROM_FUNCTIONS = {"extract", "trim", "substring", "substr", "position", "overlay"}
# Parameterless keywords that are function calls: SELECT current_date.
CURRENT_LIKE = {"CURRENT_DATE": "current_date", "CURRENT_TIMESTAMP": "current_timestamp",
                "CURRENT_TIME": "current_time", "CURRENT_USER": "current_user",
                "SESSION_USER": "session_user"}
# Keywords that end a FROM list at their depth.
END_FROM = set("""
WHERE GROUP HAVING ORDER LIMIT OFFSET WINDOW UNION EXCEPT INTERSECT MINUS SORT CLUSTER
DISTRIBUTE SELECT QUALIFY LATERAL PIVOT UNPIVOT ON USING
""".split())
DENIED = set("""
INSERT UPDATE DELETE MERGE CREATE DROP ALTER TRUNCATE GRANT REVOKE
""".split())
# Words never read as column names in an expression.
KEYWORDS = set("""
and or not in is null true false like ilike rlike regexp between case when then else end
as interval date timestamp timestamp_ntz timestamp_ltz distinct asc desc nulls first last
over partition by order rows range unbounded preceding following current row escape
exists any all some div xor select from where group having limit with on join inner left
right full outer cross semi anti using union intersect except cast try_cast year years
month months week weeks day days hour hours minute minutes second seconds millisecond
milliseconds microsecond microseconds int integer bigint smallint tinyint long double
float real decimal numeric string varchar char boolean binary to filter lateral view
values if both leading trailing for placing respect ignore within collate unknown
current_date current_timestamp current_time current_user session_user
""".split())


class Reader:
    def __init__(self, text, statement):
        self.text = text
        self.statement = statement
        self.facts = {
            "kind": None, "query": False, "statements": 0, "denied": [], "error": None,
            "functions": [], "relations": [], "table_functions": [], "ctes": [],
            "script": False, "substitution": "${" in text, "hints": [], "identifiers": [],
            "aliases": [], "placeholders": [],
        }

    # ---- names ---------------------------------------------------------------------
    def identifier_clause(self, toks, i):
        """IDENTIFIER('a.b') at toks[i]: (parts, next index)."""
        j = i + 2
        value, pieces = "", 0
        while j < len(toks) and toks[j].kind == "string":
            if toks[j].quoted:
                raise SqlError("IDENTIFIER(...) over an interpolated value cannot be checked", toks[j].offset)
            value += toks[j].value
            pieces += 1
            j += 1
        if not pieces or j >= len(toks) or not toks[j].op(")"):
            raise SqlError("IDENTIFIER(...) needs a literal name to be checked", toks[i].offset)
        try:
            inner = tokenize(value)
        except SqlError as e:
            raise SqlError("IDENTIFIER(%r): %s" % (value, e.msg), toks[i].offset)
        parts, k = [], 0
        while k < len(inner):
            if inner[k].kind != "ident":
                raise SqlError("IDENTIFIER(%r) is not a name" % value, toks[i].offset)
            parts.append(inner[k].value)
            k += 1
            if k < len(inner):
                if not inner[k].op("."):
                    raise SqlError("IDENTIFIER(%r) is not a name" % value, toks[i].offset)
                k += 1
                if k == len(inner):
                    raise SqlError("IDENTIFIER(%r) is not a name" % value, toks[i].offset)
        if not parts:
            raise SqlError("IDENTIFIER('') is not a name", toks[i].offset)
        return parts, j + 1

    def name_at(self, toks, i):
        """A dotted name starting at toks[i]: (parts, quoted_or_clause, next index), or
        None when toks[i] does not start a name."""
        parts, special, j = [], False, i
        while j < len(toks):
            t = toks[j]
            if t.kind == "ident" and t.kw("IDENTIFIER") and j + 1 < len(toks) and toks[j + 1].op("("):
                more, j = self.identifier_clause(toks, j)
                parts.extend(more)
                special = True
            elif t.kind == "ident":
                parts.append(t.value)
                special = special or t.quoted
                j += 1
            else:
                break
            if j + 1 < len(toks) and toks[j].op(".") and toks[j + 1].kind == "ident":
                j += 1
                continue
            break
        if not parts:
            return None
        return parts, special, j

    # ---- the walk ----------------------------------------------------------------
    def run(self):
        try:
            toks = tokenize(self.text)
            self.walk(toks)
        except SqlError as e:
            self.facts["error"] = e.msg
        except RecursionError:
            self.facts["error"] = "SQL text nested too deeply to read"
        return self.facts

    def statement_shape(self, toks):
        f = self.facts
        stmts, cur = [], []
        for t in toks:
            if t.op(";"):
                stmts.append(cur)
                cur = []
            else:
                cur.append(t)
        stmts.append(cur)
        while len(stmts) > 1 and not stmts[-1]:
            stmts.pop()
        f["statements"] = len([s for s in stmts if s])
        first = stmts[0]
        k = 0
        while k < len(first) and first[k].op("("):
            k += 1
        if k < len(first):
            t = first[k]
            f["kind"] = t.upper if t.upper else t.value
        f["denied"] = sorted({t.upper for t in toks if t.upper in DENIED})
        query = len(stmts) == 1 and f["kind"] in ("SELECT", "WITH")
        if query and f["kind"] == "WITH":
            query = self.with_main_is_select(first, k)
        f["query"] = query

    def with_main_is_select(self, toks, k):
        """WITH a [(cols)] AS (...), b AS (...) <main>: is <main> a SELECT?"""
        j = k + 1
        if j < len(toks) and toks[j].kw("RECURSIVE"):
            j += 1
        while True:
            nm = self.name_at(toks, j)
            if nm is None:
                return False
            j = nm[2]
            if j < len(toks) and toks[j].op("("):
                j = self.skip_parens(toks, j)
            if j < len(toks) and toks[j].kw("AS"):
                j += 1
            if j >= len(toks) or not toks[j].op("("):
                return False
            j = self.skip_parens(toks, j)
            if j < len(toks) and toks[j].op(","):
                j += 1
                continue
            break
        while j < len(toks) and toks[j].op("("):
            j += 1
        return j < len(toks) and toks[j].kw("SELECT")

    @staticmethod
    def skip_parens(toks, j):
        depth = 0
        while j < len(toks):
            if toks[j].op("("):
                depth += 1
            elif toks[j].op(")"):
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return j

    def walk(self, toks):
        f = self.facts
        if self.statement:
            self.statement_shape(toks)
        # the CTE definitions: WITH [RECURSIVE] name [(cols)] [AS] (...), name ...
        cte_defs = {}
        for idx, t in enumerate(toks):
            if t.kw("WITH"):
                j = idx + 1
                if j < len(toks) and toks[j].kw("RECURSIVE"):
                    j += 1
                while j < len(toks) and toks[j].kind == "ident":
                    nm = self.name_at(toks, j)
                    if len(nm[0]) != 1:
                        break
                    k = nm[2]
                    if k < len(toks) and toks[k].op("("):
                        k = self.skip_parens(toks, k)
                    if k < len(toks) and toks[k].kw("AS"):
                        k += 1
                    if k >= len(toks) or not toks[k].op("("):
                        break
                    cte_defs[j] = nm[2]
                    f["ctes"].append(nm[0][0].lower())
                    k = self.skip_parens(toks, k)
                    if k < len(toks) and toks[k].op(","):
                        j = k + 1
                        continue
                    break
        stack = [{"opener": None, "from": False}]
        expect_rel = False
        in_hint = None  # the stack depth a /*+ hint */ started at
        lambda_vars = self.lambda_variables(toks)
        prev = None
        i, n = 0, len(toks)
        while i < n:
            t = toks[i]
            frame = stack[-1]
            if t.kind == "hint":
                if in_hint is not None:
                    raise SqlError("a hint inside a hint", t.offset)
                in_hint = len(stack)
                prev = t
                i += 1
                continue
            if t.op("*/"):
                if in_hint is None or len(stack) != in_hint:
                    raise SqlError("*/ outside a comment", t.offset)
                in_hint = None
                prev = t
                i += 1
                continue
            if t.kind == "placeholder":
                nxt = toks[i + 1] if i + 1 < n else None
                glued = (prev is not None and prev.kind in ("ident", "number", "string")
                         and prev.offset + 1 <= t.offset and self.text[t.offset - 1] not in WS
                         and self.text[t.offset - 1] not in "(),=<>+-*/%")
                glued = glued or (nxt is not None and nxt.offset == t.offset + 1
                                  and nxt.kind in ("ident", "number", "string"))
                if expect_rel or glued or (nxt is not None and nxt.op("(", ".")) \
                        or (prev is not None and prev.op(".")):
                    raise SqlError("an interpolated value in a name position cannot be checked", t.offset)
                f["placeholders"].append({"offset": t.offset, "where": "value"})
                prev = t
                i += 1
                continue
            if t.kind == "string":
                nxt = toks[i + 1] if i + 1 < n else None
                if nxt is not None and nxt.op("(", "."):
                    # "name"(...) is a call when a session reads double quotes as
                    # identifiers (spark.sql.ansi.doubleQuotedIdentifiers)
                    raise SqlError("a quoted string used as a name", t.offset)
                if t.quoted:
                    f["placeholders"].append({"offset": t.offset, "where": "string"})
                if prev is not None and prev.kw("USING") and in_hint is None:
                    f["script"] = True
                if expect_rel:
                    raise SqlError("cannot read the relation after FROM/JOIN", t.offset)
                prev = t
                i += 1
                continue
            if t.kind == "ident" and i in cte_defs and in_hint is None:
                # a CTE's name and column list: names, not calls
                j = cte_defs[i]
                if j < n and toks[j].op("("):
                    j = self.skip_parens(toks, j)
                prev = toks[j - 1]
                i = j
                continue
            if t.kind == "ident":
                nm = self.name_at(toks, i)
                parts, special, j = nm
                nxt = toks[j] if j < n else None
                single_kw = len(parts) == 1 and not special and t.upper
                lower = [p.lower() for p in parts]
                if in_hint is not None and len(stack) == in_hint:
                    # a hint's name; its parameters are expressions like any other
                    f["hints"].append(".".join(parts).upper())
                    if nxt is not None and nxt.op("("):
                        stack.append({"opener": "hint", "from": False})
                        prev = nxt
                        i = j + 1
                        continue
                    prev = toks[j - 1]
                    i = j
                    continue
                if expect_rel:
                    if single_kw in ("LATERAL",):
                        prev = t
                        i = j
                        continue
                    if single_kw == "VALUES":
                        expect_rel = False
                        prev = t
                        i = j
                        continue
                    expect_rel = False
                    if nxt is not None and nxt.op("("):
                        f["table_functions"].append({"name": lower[-1],
                                                     "qualifier": ".".join(lower[:-1]) or None,
                                                     "offset": t.offset})
                        stack.append({"opener": lower[-1], "from": False, "tvf": True})
                        prev = nxt
                        i = j + 1
                        continue
                    f["relations"].append({"name": ".".join(lower), "offset": t.offset})
                    prev = toks[j - 1]
                    i = j
                    continue
                if single_kw:
                    up = single_kw
                    if up in ("FROM",) and not (prev is not None and prev.kw("DISTINCT")) \
                            and frame["opener"] not in FROM_FUNCTIONS:
                        frame["from"] = True
                        expect_rel = True
                    elif up == "JOIN":
                        expect_rel = True
                    elif up in END_FROM and frame["from"]:
                        if up != "ON" and up != "USING":
                            frame["from"] = False
                    if up in CURRENT_LIKE and not (nxt is not None and nxt.op("(")):
                        f["functions"].append({"name": CURRENT_LIKE[up], "qualifier": None,
                                               "offset": t.offset, "args": False})
                        prev = t
                        i = j
                        continue
                if single_kw == "TABLE":
                    # TABLE t is a query over t (UNION TABLE t, IN (TABLE t)); TABLE(t)
                    # hands t to a table function: either way t is read
                    if nxt is not None and nxt.op("("):
                        stack.append({"opener": "table", "from": False})
                        j += 1
                    expect_rel = True
                    prev = toks[j - 1]
                    i = j
                    continue
                if nxt is not None and nxt.op("(") and single_kw and single_kw in SYNTAX_BEFORE_PAREN:
                    stack.append({"opener": single_kw.lower(), "from": False})
                    prev = nxt
                    i = j + 1
                    continue
                if nxt is not None and nxt.op("(") and not (prev is not None and prev.kw("AS")):
                    empty = j + 1 < n and toks[j + 1].op(")")
                    f["functions"].append({"name": lower[-1], "qualifier": ".".join(lower[:-1]) or None,
                                           "offset": t.offset, "args": not empty})
                    stack.append({"opener": lower[-1], "from": False})
                    prev = nxt
                    i = j + 1
                    continue
                # not a call
                if nxt is not None and nxt.op("->") and len(parts) == 1:
                    lambda_vars.add(lower[0])
                elif prev is not None and prev.kw("AS") and len(parts) == 1:
                    f["aliases"].append(parts[0])
                elif nxt is not None and (nxt.op("=>") or nxt.kind == "string"):
                    pass  # a named argument, or a typed literal: DATE '2024-01-01'
                elif nxt is not None and nxt.op(".") and j + 1 < n and toks[j + 1].op("*"):
                    pass  # t.*
                elif single_kw and single_kw.lower() in KEYWORDS:
                    pass
                elif prev is not None and prev.op("::"):
                    pass  # x::int
                elif lower[0] in lambda_vars:
                    pass
                else:
                    q = ".".join(parts[:-1]) if len(parts) > 1 else None
                    f["identifiers"].append({"qualifier": q, "name": parts[-1]})
                prev = toks[j - 1]
                i = j
                continue
            # operators
            if expect_rel:
                if t.op("("):
                    # (SELECT ...) is a subquery; (a JOIN b) holds relations
                    nxt = toks[i + 1] if i + 1 < n else None
                    nested = nxt is not None and not nxt.kw("SELECT", "WITH", "VALUES", "FROM") \
                        and not nxt.op("(")
                    stack.append({"opener": None, "from": nested})
                    expect_rel = nested
                    prev = t
                    i += 1
                    continue
                raise SqlError("cannot read the relation after FROM/JOIN", t.offset)
            if t.op("("):
                stack.append({"opener": None, "from": False})
            elif t.op(")"):
                if len(stack) == 1:
                    raise SqlError("unbalanced ')'", t.offset)
                stack.pop()
            elif t.op(",") and frame["from"]:
                expect_rel = True
            prev = t
            i += 1
        if in_hint is not None:
            raise SqlError("unterminated /*+ hint */", len(self.text))
        if expect_rel:
            raise SqlError("FROM/JOIN without a relation", len(self.text))
        if len(stack) > 1:
            raise SqlError("unbalanced '('", len(self.text))

    @staticmethod
    def lambda_variables(toks):
        """Names bound by lambdas: x -> ..., (a, b) -> ... (lower case)."""
        out = set()
        for k, t in enumerate(toks):
            if not t.op("->") or k == 0:
                continue
            if toks[k - 1].kind == "ident":
                out.add(toks[k - 1].value.lower())
            elif toks[k - 1].op(")"):
                j = k - 2
                while j >= 0 and (toks[j].kind == "ident" or toks[j].op(",")):
                    if toks[j].kind == "ident":
                        out.add(toks[j].value.lower())
                    j -= 1
        return out


def read(text, statement=False):
    """Facts about SQL `text`. statement=True: a whole statement (spark.sql);
    otherwise an expression (F.expr, selectExpr, filter)."""
    return Reader(text, statement).run()


def read_name(text):
    """A function name as call_function/call_udf/agg read it: {name, qualifier} or
    {error}. The name is parsed as a multipart identifier (backquotes, dots)."""
    try:
        toks = tokenize(text)
        r = Reader(text, False)
        nm = r.name_at(toks, 0) if toks else None
        if nm is None or nm[2] != len(toks):
            return {"error": "%r is not a function name" % text}
        lower = [p.lower() for p in nm[0]]
        return {"name": lower[-1], "qualifier": ".".join(lower[:-1]) or None}
    except SqlError as e:
        return {"error": e.msg}
