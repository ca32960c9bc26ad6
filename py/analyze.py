#!/usr/bin/env python3
"""analyze.py - facts about a generated PySpark body, as one JSON object on stdout.

    python3 py/analyze.py < body.py
    python3 py/analyze.py --serve     (JSON lines: many inputs, one process; see serve())

sparkgen judges model-written code before anyone runs it. This script only *reads* the
code with Python's own parser (the `ast` module, stdlib only, Python 3.9+) and reports
what it finds: it never imports, compiles to bytecode or executes the input. Every
judgement (which imports are allowed, which names are forbidden, which columns exist)
is made by lua/sparkgen/lint.lua, so a team changes the policy without touching this
file.

Input is either a generated body (module-level code that assigns `result_df`) or a full
job file rendered by sparkgen: when the module defines a top-level
`def transform(read_table, ...)`, only that function's body is analysed (the job's own
scaffolding around it is sparkgen's template, not model output), and line numbers stay
those of the file.

The facts (every list is in source order; lines are 1-based, columns 0-based):
  mode            "body" | "job"
  syntax_error    {line, col, msg} or null (then the other facts are empty)
  imports         [{module, names, line, col, level}]
  calls           [{name, line, col}]        dotted chain, "<expr>.m" when the root is
                                              not a plain name
  free_names      [{name, line, col}]        names read but never bound in the code
  private_attrs   [{name, line, col}]        x.__class__, spark._jvm: introspection and
                                              JVM internals
  read_table_refs [{line, col}]              read_table used other than by a direct call
  read_tables     [{name|null, literal, line, col}]
  frames          {var: {tables, aggregated, opaque}}  final binding of each variable
  frame_aliases   {alias: [tables]}          orders.alias("o")
  columns         [{name, qualifier?, line, col, context, tables?, opaque?}]
                  tables = the read_table names behind the frame the reference is made
                  on, when known; opaque = the frame comes from spark.sql or an
                  unknown source, so its columns cannot be checked
  introduced      [{name, line, kind}]       alias, withColumn, rename, agg, toDF, ...
  temp_views      [{name, line}]
  sql             [{text|null, literal, line, col, context, error?, ...}]  every
                  string that reaches Spark's SQL parser (spark.sql, expr, selectExpr,
                  filter/where, agg dict values, call_function names), with the facts
                  py/sqlread.py reports about it (functions, relations, kind, ...);
                  text is null when it is not a string the analyser can read
  api_refs        [{api, name, called, nargs, line, col}]  members of F, T and Window
                                              used, through any alias (api = "F"|"T"|"Window")
  sql_refs        [{name, line, col}]        SQL-taking methods used but not called
  result_df       {line} or null
  joins           [{how, has_on, cross, line, col}]
  aggregations    [{method, line}]
  windows         [{line}]
  collects        [{method, aggregated, line, col}]
  writes          [{method, line, col}]
  reads           [{kind, line, col}]        spark.read, jdbc, files, spark.table, ...
"""
import ast
import importlib.util
import json
import os
import re
import sys


def _load_sibling(name):
    """py/NAME.py, imported by path: the analyser runs as python3 -I -S, so its own
    directory is not on sys.path."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("sparkgen_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sqlread = _load_sibling("sqlread")
policyfacts = _load_sibling("policyfacts")
chain, where, root_name = policyfacts.chain, policyfacts.where, policyfacts.root_name
API_MODULES, READ_ATTRS, WRITE_ATTRS = policyfacts.API_MODULES, policyfacts.READ_ATTRS, policyfacts.WRITE_ATTRS

# DataFrame properties that are not columns (df.columns, df.write, ...).
DF_PROPERTIES = {
    "columns", "dtypes", "schema", "write", "writeStream", "rdd", "na", "stat",
    "isStreaming", "storageLevel", "sparkSession", "sql_ctx", "is_cached", "writeTo",
}

# Methods whose positional string arguments (and list-of-string arguments) are column
# names on the receiving frame.
COLUMN_ARG_METHODS = {
    "select", "groupBy", "groupby", "orderBy", "sort", "sortWithinPartitions", "drop",
    "dropDuplicates", "drop_duplicates", "cube", "rollup", "repartition",
    "repartitionByRange", "partitionBy",
}
# Grouped-data aggregations: string arguments are columns, results are "fn(col)".
GROUPED_AGGS = {"sum", "avg", "mean", "max", "min"}
# Methods whose subset= (or second positional) argument names columns.
SUBSET_METHODS = {"dropna", "fillna", "replace", "dropDuplicates", "drop_duplicates"}


# pyspark.sql.functions whose string arguments are column names: "all" = every
# positional string, an int = only that positional index.
F_COLUMN_ARGS = {
    "col": "all", "column": "all", "asc": "all", "desc": "all", "asc_nulls_first": "all",
    "asc_nulls_last": "all", "desc_nulls_first": "all", "desc_nulls_last": "all",
    "sum": "all", "avg": "all", "mean": "all", "min": "all", "max": "all", "count": "all",
    "count_distinct": "all", "countDistinct": "all", "sum_distinct": "all",
    "sumDistinct": "all", "approx_count_distinct": "all", "approxCountDistinct": "all",
    "first": 0, "last": 0, "first_value": 0, "last_value": 0, "any_value": 0,
    "collect_list": "all", "collect_set": "all", "stddev": "all", "stddev_pop": "all",
    "stddev_samp": "all", "variance": "all", "var_pop": "all", "var_samp": "all",
    "median": 0, "mode": 0, "percentile_approx": 0, "percentile": 0,
    "max_by": "all", "min_by": "all", "corr": "all", "covar_pop": "all",
    "covar_samp": "all", "skewness": 0, "kurtosis": 0,
    "round": 0, "bround": 0, "abs": 0, "sqrt": 0, "exp": 0, "log10": 0, "log2": 0,
    "floor": 0, "ceil": 0, "signum": 0, "upper": 0, "lower": 0, "trim": 0, "ltrim": 0,
    "rtrim": 0, "initcap": 0, "length": 0, "char_length": 0, "reverse": 0,
    "year": 0, "quarter": 0, "month": 0, "dayofmonth": 0, "dayofweek": 0,
    "dayofyear": 0, "weekofyear": 0, "hour": 0, "minute": 0, "second": 0,
    "to_date": 0, "to_timestamp": 0, "date_format": 0, "last_day": 0,
    "unix_timestamp": 0, "datediff": "all", "months_between": [0, 1],
    "date_add": 0, "date_sub": 0, "add_months": 0, "trunc": 0, "date_trunc": 1,
    "coalesce": "all", "greatest": "all", "least": "all", "concat": "all",
    "isnull": 0, "isnan": 0, "explode": 0, "explode_outer": 0, "size": 0,
    "array_contains": 0, "lag": 0, "lead": 0, "hash": "all", "xxhash64": "all",
    "md5": 0, "sha1": 0, "sha2": 0, "struct": "all", "array": "all",
    "nanvl": "all", "ifnull": "all", "nvl": "all", "nullif": "all",
    "bool_and": 0, "bool_or": 0, "every": 0, "some": 0, "count_if": 0,
    "sort_array": 0, "array_distinct": 0, "to_utc_timestamp": 0,
    "from_utc_timestamp": 0, "regexp_replace": 0, "regexp_extract": 0, "substring": 0,
    "split": 0, "lpad": 0, "rpad": 0, "format_number": 0,
}
# DataFrame methods recognised even on a receiver that cannot be traced (a helper
# function's parameter); not join, count, replace, sort: str and list have those too.
UNTRACED_FRAME_METHODS = {"withColumn", "withColumns", "withColumnRenamed",
                          "withColumnsRenamed", "toDF", "agg", "groupBy", "groupby",
                          "select", "selectExpr", "where", "filter", "orderBy"}
# Functions whose string arguments are SQL text, or SQL function names.
SQL_TEXT_FUNCS = {"expr"}
SQL_NAME_FUNCS = {"call_function", "call_udf"}
STR_METHODS = {"format", "join", "format_map", "replace", "lower", "upper", "strip", "lstrip",
               "rstrip", "title", "capitalize", "casefold", "swapcase", "zfill", "center",
               "ljust", "rjust", "removeprefix", "removesuffix", "expandtabs", "translate"}
# A strftime format whose output cannot be SQL syntax (no quotes, $, braces, comments).
DATE_FORMAT = re.compile(r"^(?!.*--)[%A-Za-z0-9 _:./-]*$")
# Calls whose result is a plain value when their arguments are (for f-strings in SQL).
VALUE_FUNCS = {"period_bounds", "date", "datetime", "timedelta", "Decimal", "int", "float",
               "round", "abs", "len", "min", "max", "str"}
def split_identifier(text):
    """`o`.`Order Date` / o.x / x -> (qualifier or None, name); backticks removed."""
    parts, cur, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "`":
            if quoted and i + 1 < len(text) and text[i + 1] == "`":
                cur.append("`")
                i += 2
                continue
            quoted = not quoted
        elif c == "." and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    if len(parts) == 1:
        return None, parts[0]
    return ".".join(parts[:-1]), parts[-1]


class Frame:
    """What is known about a DataFrame-valued expression: the read_table names behind
    it, whether it is already aggregated (small), whether it is a GroupedData
    (groupBy without agg yet), and whether its columns are unknowable (spark.sql)."""

    def __init__(self, tables=(), aggregated=False, opaque=False, grouped=False):
        self.tables = set(tables)
        self.aggregated = aggregated
        self.opaque = opaque
        self.grouped = grouped

    def derive(self, aggregated=None, grouped=False):
        return Frame(self.tables, self.aggregated if aggregated is None else aggregated,
                     self.opaque, grouped)

    def merge(self, other):
        return Frame(self.tables | other.tables, self.aggregated and other.aggregated,
                     self.opaque or other.opaque)

    def to_json(self):
        return {"tables": sorted(self.tables), "aggregated": self.aggregated,
                "opaque": self.opaque}


class Analyzer(policyfacts.PolicyFacts):
    def __init__(self):
        self.facts = {
            "mode": "body", "syntax_error": None, "imports": [], "calls": [],
            "free_names": [], "private_attrs": [], "read_table_refs": [], "read_tables": [], "frames": {},
            "frame_aliases": {}, "columns": [], "introduced": [], "temp_views": [],
            "sql": [], "result_df": None, "joins": [], "aggregations": [],
            "windows": [], "collects": [], "writes": [], "reads": [],
            "api_refs": [], "sql_refs": [], "spark_refs": [], "syntax": [],
            "formats": [], "module_attrs": [], "api_attrs": [],
        }
        self.frames = {}          # variable -> Frame (current binding)
        self.str_lists = {}       # variable -> list of literal strings
        self.str_consts = {}      # variable -> (text, literal?) of a string assigned to it
        self.aliases = {}         # DataFrame alias -> Frame
        self.bound = set()
        self.str_nodes = {}       # variable -> the f-string assigned to it
        self.str_names = set()    # variables bound to text the code built
        self.dict_names = set()   # variables bound to a dict (agg({...}) takes names)
        self.value_names = set()  # variables holding plain values (see value_expr)
        self.init_policy_state()

    # ---- recording ---------------------------------------------------------------
    def col(self, name, node, context, frame, qualifier=None):
        if not isinstance(name, str):
            return
        # qualifier None: parse "o.x" / backticks; "": the name is exact (df["a.b"])
        q, n = split_identifier(name) if qualifier is None else (qualifier or None, name)
        if n == "*" or n == "":
            return
        line, col = where(node)
        ref = {"name": n, "line": line, "col": col, "context": context}
        if q is not None:
            ref["qualifier"] = q
            alias = self.aliases.get(q)
            if alias is not None and alias.opaque:
                frame = alias  # F.col("s.x") on spark.sql output: unknowable columns
        if frame is not None:
            if frame.opaque:
                ref["opaque"] = True
            elif frame.tables:
                ref["tables"] = sorted(frame.tables)
        self.facts["columns"].append(ref)

    def introduce(self, name, node, kind):
        if isinstance(name, str) and name:
            self.facts["introduced"].append({"name": name, "line": where(node)[0], "kind": kind})

    def sql_text(self, node, context, frame=None):
        """Record SQL text that reaches Spark's parser: the reader's facts about it,
        and (outside spark.sql) its identifiers as columns."""
        text, literal, unsafe = self.sql_string(node)
        entry = {"text": text, "literal": literal, "line": node.lineno,
                 "col": node.col_offset, "context": context}
        if not isinstance(node, ast.Constant):
            self.expr(node, frame)  # f-string placeholders are code too
        if text is None:
            self.facts["sql"].append(entry)
            return
        facts = sqlread.read(text, statement=(context == "spark.sql"))
        if unsafe and not facts["error"]:
            facts["error"] = ("the f-string interpolates %s, which is not a plain value, into "
                              "SQL text; it cannot be checked" % unsafe[0])
        self.place(facts, node, text)
        entry.update(facts)
        identifiers = entry.pop("identifiers")
        self.facts["sql"].append(entry)
        # "x AS y" names a result column y, in expressions and in spark.sql alike
        for name in facts["aliases"]:
            self.introduce(name, node, "sql alias")
        if context == "spark.sql" or facts["error"]:
            return
        for ident in identifiers:
            self.col(ident["name"], node, context, frame, qualifier=ident["qualifier"] or "")

    def sql_name(self, node, context, frame=None):
        """A function NAME that reaches Spark (agg dict values, call_function)."""
        text, literal = self.string_value(node) if node is not None else (None, False)
        entry = {"text": text if literal else None, "literal": literal, "line": node.lineno if node else 0,
                 "col": node.col_offset if node else 0, "context": context}
        if node is not None and not isinstance(node, ast.Constant):
            self.expr(node, frame)
        if text is not None and literal:
            name = sqlread.read_name(text)
            if "error" in name:
                entry["error"] = name["error"]
            else:
                entry["functions"] = [dict(name, offset=0, args=True)]
        self.facts["sql"].append(entry)

    @staticmethod
    def place(facts, node, text):
        """Line numbers of what the reader found: a multi-line literal's own lines."""
        multi = getattr(node, "end_lineno", node.lineno) != node.lineno
        for key in ("functions", "relations", "table_functions", "placeholders"):
            for item in facts[key]:
                off = item.pop("offset", 0)
                item["line"] = node.lineno + (text.count("\n", 0, off) if multi else 0)

    def sql_string(self, node):
        """(text, literal?, unsafe) of SQL text: a constant, a name bound to one, or an
        f-string. Placeholders bound to literal strings are inlined; plain values
        (params, dates, numbers) become sqlread.PLACEHOLDER; anything else is listed
        in `unsafe` (its source text)."""
        if isinstance(node, ast.Name) and node.id in self.str_nodes:
            node = self.str_nodes[node.id]
        if isinstance(node, ast.JoinedStr):
            parts, unsafe = [], []
            for v in node.values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    parts.append(v.value)
                    continue
                inner = v.value if isinstance(v, ast.FormattedValue) else v
                const = self.string_value(inner) if isinstance(inner, ast.Name) else (None, False)
                if const[0] is not None and const[1] and v.format_spec is None and v.conversion == -1:
                    parts.append(const[0])
                elif self.value_expr(inner):
                    parts.append(sqlread.PLACEHOLDER)
                else:
                    parts.append(sqlread.PLACEHOLDER)
                    unsafe.append("{%s}" % (ast.unparse(inner) if hasattr(ast, "unparse") else "..."))
            return "".join(parts), False, unsafe
        text, literal = self.string_value(node)
        if text is not None and not literal:
            return None, False, []
        return text, literal, []

    def stringish(self, node):
        """Does `node` build text (so that, where SQL is expected, it is SQL text)?"""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.str_names
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod, ast.Mult)):
            return self.stringish(node.left) or self.stringish(node.right)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("str", "repr", "format", "chr"):
                return True
            if isinstance(f, ast.Attribute) and f.attr in STR_METHODS:
                return self.stringish(f.value) or f.attr in ("format", "join", "format_map")
        if isinstance(node, ast.IfExp):
            return self.stringish(node.body) or self.stringish(node.orelse)
        return False

    def value_expr(self, node):
        """Is `node` a plain value (params, dates, numbers and what is computed from
        them), as opposed to text the code built?"""
        if isinstance(node, ast.Constant):
            return not isinstance(node.value, str)
        if isinstance(node, ast.Name):
            return node.id in self.value_names or node.id == "params"
        if isinstance(node, ast.Attribute):
            return self.value_expr(node.value)
        if isinstance(node, ast.Subscript):
            idx = node.slice
            return self.value_expr(node.value) and (isinstance(idx, ast.Constant) or self.value_expr(idx))
        if isinstance(node, ast.Call):
            # A plain value never carries text the code wrote: no string argument may
            # come back in the result (params.get("k", "${env:X}"), strftime("'..."))
            # except a dict key and a strftime format made of date directives.
            f = node.func
            args = list(node.args) + [k.value for k in node.keywords]
            if isinstance(f, ast.Name):
                return f.id in VALUE_FUNCS and f.id not in self.bound and all(map(self.value_expr, args))
            if not isinstance(f, ast.Attribute) or not self.value_expr(f.value):
                return False
            if f.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
                args = args[1:]
            elif f.attr == "strftime" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and DATE_FORMAT.match(node.args[0].value):
                args = []
            return all(map(self.value_expr, args))
        if isinstance(node, ast.BinOp):
            return self.value_expr(node.left) and self.value_expr(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.value_expr(node.operand)
        return False

    def string_value(self, node):
        """(text, literal?) for a string constant or an f-string (placeholders become
        the identifier __param__); (None, False) otherwise."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value, True
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    parts.append(v.value)
                else:
                    parts.append("__param__")
            return "".join(parts), False
        if isinstance(node, ast.Name) and node.id in self.str_consts:
            return self.str_consts[node.id]
        return None, False

    def strings(self, node):
        """Literal strings in a column-name position: "x", ["x", "y"], *cols."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [(node.value, node)]
        if isinstance(node, (ast.List, ast.Tuple)):
            out = []
            for e in node.elts:
                out.extend(self.strings(e))
            return out
        if isinstance(node, ast.Starred):
            return self.strings(node.value)
        if isinstance(node, ast.Name) and node.id in self.str_lists:
            return [(s, node) for s in self.str_lists[node.id]]
        if isinstance(node, ast.Name) and self.str_consts.get(node.id, (None, False))[1]:
            return [(self.str_consts[node.id][0], node)]
        return []

    # ---- expressions -------------------------------------------------------------
    def expr(self, node, ctx=None):
        """Visit an expression; return its Frame when it is a DataFrame we can trace.
        ctx is the Frame that bare F.col("x") references inside it refer to."""
        if node is None:
            return None
        if isinstance(node, ast.Call):
            return self.call(node, ctx)
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                if node.id in self.frames:
                    return self.frames[node.id]
            return None
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value, ctx)
            # orders.customer_id: a column of a traced frame (not df.columns, df.write)
            if base is not None and not base.grouped and node.attr not in DF_PROPERTIES \
                    and not node.attr.startswith("_"):
                self.col(node.attr, node, "attribute", base, qualifier="")
            return None
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, ctx)
            idx = node.slice
            if base is None:
                self.expr(idx, ctx)
                return None
            if isinstance(idx, ast.Constant):
                self.col(idx.value, idx, "subscript", base, qualifier="")
                return None
            names = self.strings(idx)
            for s, n in names:
                self.col(s, n, "subscript", base)
            if not names:
                self.expr(idx, base)  # df[condition] filters rows
            return base.derive()
        if isinstance(node, ast.Lambda):
            self.bind_args(node.args)
            self.expr(node.body, ctx)
            return None
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in node.generators:
                self.expr(gen.iter, ctx)
                self.bind_target(gen.target, None)
                for cond in gen.ifs:
                    self.expr(cond, ctx)
            if isinstance(node, ast.DictComp):
                self.expr(node.key, ctx)
                self.expr(node.value, ctx)
            else:
                self.expr(node.elt, ctx)
            return None
        if isinstance(node, ast.NamedExpr):
            fr = self.expr(node.value, ctx)
            self.bind_target(node.target, node.value, fr)
            return fr
        if isinstance(node, ast.IfExp):
            self.expr(node.test, ctx)
            a = self.expr(node.body, ctx)
            b = self.expr(node.orelse, ctx)
            return a or b
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, ctx)
        return None

    def call(self, node, ctx):
        func = node.func
        line, col = where(node)
        kw = {k.arg: k.value for k in node.keywords if k.arg}

        # read_table("orders")
        if isinstance(func, ast.Name) and func.id == "read_table":
            arg = node.args[0] if node.args else kw.get("name")
            text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            self.facts["read_tables"].append({"name": text, "literal": text is not None,
                                              "line": node.lineno, "col": node.col_offset})
            for a in node.args[1:]:
                self.expr(a, ctx)
            if arg is not None and text is None:
                self.expr(arg, ctx)
            return Frame([text] if text else [], opaque=text is None)

        if isinstance(func, ast.Attribute):
            method = func.attr
            root = root_name(func.value)
            # pyspark.sql.functions: F.col("x"), F.sum("x"), F.expr("...") (any alias)
            canon = self.f_canonical(func)
            if canon and canon.startswith("F."):
                self.expr(func.value)
                return self.function_call(canon[2:], node, kw, ctx)
            if isinstance(func.value, ast.Name) and func.value.id == "Window":
                self.expr(func.value)
                self.column_args(method, node, kw, None, "window")
                return None
            if method == "sql":  # spark.sql, or any session object's .sql
                self.expr(func.value)
                query = node.args[0] if node.args else kw.get("sqlQuery")
                formatted = any(k.arg not in ("sqlQuery", "args") for k in node.keywords)
                if query is not None and formatted:
                    self.expr(query, ctx)
                elif query is not None:
                    self.sql_text(query, "spark.sql")
                else:
                    self.facts["sql"].append({"text": None, "literal": False, "line": line,
                                              "col": col, "context": "spark.sql"})
                for a in node.args[1:]:
                    self.expr(a, ctx)
                for k, v in kw.items():
                    if k not in ("sqlQuery", "args"):
                        # spark.sql("... {df} ...", df=df): Python's formatter rewrites
                        # the text before Spark reads it
                        self.facts["sql"].append({
                            "text": None, "literal": False, "line": line, "col": col,
                            "context": "spark.sql", "error": "spark.sql(..., %s=...) formats the "
                            "query with Python's string formatter before Spark reads it; "
                            "register a view and use args= for values" % k})
                    self.expr(v, ctx)
                for k in node.keywords:
                    if k.arg is None:
                        self.facts["sql"].append({
                            "text": None, "literal": False, "line": line, "col": col,
                            "context": "spark.sql", "error": "spark.sql(..., **kwargs) cannot be checked"})
                        self.expr(k.value, ctx)
                return Frame(opaque=True)
            if method in ("createDataFrame", "range") and root == "spark":
                return self.created_frame(method, node, kw, ctx)
            recv = self.expr(func.value, ctx)
            if recv is None and method in UNTRACED_FRAME_METHODS \
                    and not isinstance(func.value, (ast.Constant, ast.JoinedStr)):
                # a frame we cannot trace (a helper's parameter): its columns cannot
                # be checked, but the names it introduces are still known
                recv = Frame(opaque=True)
            if recv is not None:
                return self.frame_method(recv, method, node, kw)
            # Column methods and windows chained off a Window spec
            if method in ("partitionBy", "orderBy", "rowsBetween", "rangeBetween") \
                    and root == "Window":
                self.column_args(method, node, kw, None, "window")
                return None
            if method in ("alias", "name") and node.args:
                s, _ = self.string_value(node.args[0])
                self.introduce(s, node, "alias")
                for a in node.args[1:]:
                    self.expr(a, ctx)
                return None
            if method == "over":
                self.facts["windows"].append({"line": line})
            if method in ("collect", "toPandas"):
                self.facts["collects"].append({"method": method, "aggregated": False,
                                               "line": line, "col": col})
            for a in node.args:
                self.expr(a, ctx)
            for v in kw.values():
                self.expr(v, ctx)
            return None

        # plain function call: period_bounds(...), int(...), col("x") after an import
        if isinstance(func, ast.Name) and self.f_canonical(func):
            return self.function_call(self.f_canonical(func)[2:], node, kw, ctx)
        if isinstance(func, ast.Name) and func.id in F_COLUMN_ARGS and func.id not in (
                "round", "abs", "sum", "min", "max"):
            self.expr(func)
            return self.function_call(func.id, node, kw, ctx)
        if isinstance(func, ast.Name) and func.id in SQL_TEXT_FUNCS:
            self.expr(func)
            return self.function_call(func.id, node, kw, ctx)
        self.expr(func, ctx)
        for a in node.args:
            self.expr(a, ctx)
        for v in kw.values():
            self.expr(v, ctx)
        return None

    def created_frame(self, method, node, kw, ctx):
        """spark.createDataFrame(rows, ["a", "b"] | "a INT, b STRING"), spark.range(n):
        small literal frames; their column names are introduced by the code."""
        for a in list(node.args) + list(kw.values()):
            self.expr(a, ctx)
        if method == "range":
            self.introduce("id", node, "range")
            return Frame(opaque=True)
        schema = node.args[1] if len(node.args) > 1 else kw.get("schema")
        if schema is not None:
            text, _ = self.string_value(schema)
            if text is not None:  # DDL: "a INT, b STRING"
                for part in text.split(","):
                    words = part.strip().split()
                    if words:
                        self.introduce(words[0].strip("`").rstrip(":"), node, "createDataFrame")
            else:
                for s, _ in self.strings(schema):
                    self.introduce(s, node, "createDataFrame")
        return Frame(opaque=True)

    def function_call(self, fname, node, kw, ctx):
        """F.<fname>(...): column-name strings, SQL text, nested expressions."""
        if fname in SQL_TEXT_FUNCS:
            text = node.args[0] if node.args else kw.get("str")
            if text is not None:
                self.sql_text(text, "expr", ctx)
            for a in node.args[1:]:
                self.expr(a, ctx)
            return None
        if fname in SQL_NAME_FUNCS:
            name = node.args[0] if node.args else kw.get("funcName", kw.get("udfName"))
            self.sql_name(name, "F." + fname, ctx)
            for a in node.args[1:]:
                self.expr(a, ctx)
            for k, v in kw.items():
                if k not in ("funcName", "udfName"):
                    self.expr(v, ctx)
            return None
        spec = F_COLUMN_ARGS.get(fname)
        for i, a in enumerate(node.args):
            is_col = spec == "all" or spec == i or (isinstance(spec, list) and i in spec)
            if is_col:
                for s, n in self.strings(a):
                    self.col(s, n, "F." + fname, ctx)
            if not (is_col and self.strings(a)):
                self.expr(a, ctx)
        for v in kw.values():
            self.expr(v, ctx)
        return None

    def column_args(self, method, node, kw, frame, context):
        for a in node.args:
            found = self.strings(a)
            for s, n in found:
                self.col(s, n, context, frame)
            if not found:
                self.expr(a, frame)
        for k, v in kw.items():
            if k in ("subset", "cols"):
                for s, n in self.strings(v):
                    self.col(s, n, context, frame)
            else:
                self.expr(v, frame)

    def frame_method(self, recv, method, node, kw):
        """A method called on a traced DataFrame (or GroupedData)."""
        args = node.args
        line, col = where(node)
        if method in ("filter", "where"):
            for a in args:
                if self.string_value(a)[0] is not None or self.stringish(a):
                    self.sql_text(a, method, recv)
                else:
                    self.expr(a, recv)
            return recv.derive()
        if method == "hint":
            name = args[0] if args else kw.get("name")
            text, literal = self.string_value(name) if name is not None else (None, False)
            self.facts["sql"].append({"text": text if literal else None, "literal": literal,
                                      "line": line, "col": col, "context": "hint",
                                      "hints": [text.upper()] if literal else []})
            for a in args[1:]:
                self.expr(a, recv)
            return recv.derive()
        if method == "selectExpr":
            for a in args:
                if isinstance(a, ast.Starred):
                    a = a.value
                    if isinstance(a, ast.Name) and a.id in self.str_lists:
                        for text in self.str_lists[a.id]:
                            self.sql_text(ast.copy_location(ast.Constant(text), a), "selectExpr", recv)
                        continue
                elts = a.elts if isinstance(a, (ast.List, ast.Tuple)) else [a]
                for e in elts:
                    self.sql_text(e, "selectExpr", recv)
            return recv.derive()
        if method in ("withColumn", "withColumnRenamed"):
            first = args[0] if args else kw.get("colName") or kw.get("existing")
            second = args[1] if len(args) > 1 else kw.get("col") or kw.get("new")
            if method == "withColumn":
                s, _ = self.string_value(first) if first is not None else (None, False)
                self.introduce(s, node, "withColumn")
                self.expr(second, recv)
            else:
                if first is not None:
                    for s, n in self.strings(first):
                        self.col(s, n, "withColumnRenamed", recv)
                s, _ = self.string_value(second) if second is not None else (None, False)
                self.introduce(s, node, "withColumnRenamed")
            return recv.derive()
        if method in ("withColumns", "withColumnsRenamed"):
            mapping = args[0] if args else None
            if isinstance(mapping, ast.Dict):
                for k, v in zip(mapping.keys, mapping.values):
                    if method == "withColumns":
                        s, _ = self.string_value(k) if k is not None else (None, False)
                        self.introduce(s, node, "withColumn")
                        self.expr(v, recv)
                    else:
                        for s, n in self.strings(k) if k is not None else []:
                            self.col(s, n, "withColumnRenamed", recv)
                        s, _ = self.string_value(v)
                        self.introduce(s, node, "withColumnRenamed")
            else:
                self.expr(mapping, recv)
            return recv.derive()
        if method == "toDF":
            for s, n in [x for a in args for x in self.strings(a)]:
                self.introduce(s, node, "toDF")
            return recv.derive()
        if method == "alias" and args:
            s, _ = self.string_value(args[0])
            if s:
                self.aliases[s] = recv
                self.facts["frame_aliases"][s] = sorted(recv.tables)
            return recv.derive()
        if method in ("join", "crossJoin"):
            other = self.expr(args[0], recv) if args else self.expr(kw.get("other"), recv)
            both = recv.merge(other) if other is not None else Frame(recv.tables, opaque=True)
            on = args[1] if len(args) > 1 else kw.get("on")
            how = args[2] if len(args) > 2 else kw.get("how")
            how_s = how.value if isinstance(how, ast.Constant) and isinstance(how.value, str) else None
            has_on = on is not None and not (isinstance(on, ast.Constant) and on.value is None)
            cross = method == "crossJoin" or (how_s or "").lower() == "cross"
            self.facts["joins"].append({"how": how_s if how_s else (None if how is None else "<expr>"),
                                        "has_on": has_on, "cross": cross,
                                        "line": line, "col": col})
            if on is not None:
                names = self.strings(on)
                if names:
                    for s, n in names:
                        self.col(s, n, "join", recv)
                        self.col(s, n, "join", other if other is not None else Frame(opaque=True))
                else:
                    self.expr(on, both)
            if how is not None and how_s is None:
                self.expr(how, recv)
            return both
        if method in ("union", "unionAll", "unionByName", "intersect", "intersectAll",
                      "subtract", "exceptAll"):
            other = self.expr(args[0], recv) if args else None
            for v in kw.values():
                self.expr(v, recv)
            return recv.merge(other) if other is not None else recv.derive()
        if method in ("groupBy", "groupby", "rollup", "cube"):
            self.facts["aggregations"].append({"method": method, "line": line})
            self.column_args(method, node, kw, recv, method)
            return recv.derive(aggregated=True, grouped=True)
        if method == "agg":
            if not recv.grouped:
                self.facts["aggregations"].append({"method": method, "line": line})
            for a in args:
                if isinstance(a, ast.Dict):
                    for k, v in zip(a.keys, a.values):
                        if k is None:  # {**other}: names the analyser cannot see
                            self.sql_name(v, "agg", recv)
                            continue
                        s, _ = self.string_value(k)
                        fn, _ = self.string_value(v)
                        self.sql_name(v, "agg", recv)
                        if s:
                            self.col(s, k, "agg", recv)
                            if fn:
                                self.introduce("%s(%s)" % (fn, s), node, "agg")
                elif isinstance(a, ast.Name) and a.id in self.dict_names or \
                        (isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "dict"):
                    self.sql_name(a, "agg", recv)  # function names the analyser cannot see
                else:
                    self.expr(a, recv)
            for v in kw.values():
                self.expr(v, recv)
            return recv.derive(aggregated=True)
        if method in GROUPED_AGGS and recv.grouped:
            for s, n in [x for a in args for x in self.strings(a)]:
                self.col(s, n, method, recv)
                self.introduce("%s(%s)" % (method, s), node, "agg")
            return recv.derive(aggregated=True)
        if method == "count":
            if recv.grouped:
                self.introduce("count", node, "agg")
                return recv.derive(aggregated=True)
            return None  # df.count() is a number
        if method == "pivot":
            if args:
                for s, n in self.strings(args[0]):
                    self.col(s, n, "pivot", recv)
            if len(args) > 1:
                # pivot values become column names
                for s, _ in self.strings(args[1]):
                    self.introduce(s, node, "pivot")
                if isinstance(args[1], (ast.List, ast.Tuple)):
                    for e in args[1].elts:
                        if isinstance(e, ast.Constant) and not isinstance(e.value, str):
                            self.introduce(str(e.value), node, "pivot")
            return recv.derive(aggregated=True, grouped=True)
        if method in COLUMN_ARG_METHODS:
            self.column_args(method, node, kw, recv, method)
            return recv.derive(aggregated=recv.aggregated)
        if method in SUBSET_METHODS:
            subset = kw.get("subset")
            if subset is None and method in ("dropna",) and len(args) > 2:
                subset = args[2]
            if subset is None and method in ("fillna",) and len(args) > 1:
                subset = args[1]
            if subset is not None:
                for s, n in self.strings(subset):
                    self.col(s, n, method, recv)
            for i, a in enumerate(args):
                if a is not subset:
                    if method == "fillna" and isinstance(a, ast.Dict):
                        for k in a.keys:
                            for s, n in self.strings(k) if k is not None else []:
                                self.col(s, n, method, recv)
                    else:
                        self.expr(a, recv)
            for k, v in kw.items():
                if k != "subset":
                    self.expr(v, recv)
            return recv.derive()
        if method in ("createOrReplaceTempView", "createTempView"):
            s, _ = self.string_value(args[0]) if args else (None, False)
            if s:
                self.facts["temp_views"].append({"name": s, "line": line})
            return None
        if method in ("collect", "toPandas", "toLocalIterator", "take", "head", "first",
                      "show", "toJSON", "foreach", "foreachPartition"):
            if method in ("collect", "toPandas"):
                self.facts["collects"].append({"method": method, "aggregated": recv.aggregated,
                                               "line": line, "col": col})
            for a in args:
                self.expr(a, recv)
            return None
        if method in ("limit", "distinct", "describe", "summary"):
            for a in args:
                self.expr(a, recv)
            return recv.derive(aggregated=True)
        # Other frame methods (cache, persist, hint, repartition, orderBy variants, ...)
        for a in args:
            self.expr(a, recv)
        for v in kw.values():
            self.expr(v, recv)
        if method in ("cache", "persist", "unpersist", "hint", "coalesce", "checkpoint",
                      "localCheckpoint", "sample", "dropDuplicatesWithinWatermark",
                      "transform", "na", "fill", "withWatermark", "orderBy", "sort"):
            return recv.derive()
        return None

    # ---- statements --------------------------------------------------------------
    def bind_args(self, args):
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            self.bound.add(a.arg)
        if args.vararg:
            self.bound.add(args.vararg.arg)
        if args.kwarg:
            self.bound.add(args.kwarg.arg)
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.expr(d)

    def bind_target(self, target, value, frame=None):
        if isinstance(target, ast.Name):
            self.bound.add(target.id)
            if frame is not None:
                self.frames[target.id] = frame
            else:
                self.frames.pop(target.id, None)
            strs = self.strings(value) if isinstance(value, (ast.List, ast.Tuple)) else []
            if strs and len(strs) == len(value.elts):
                self.str_lists[target.id] = [s for s, _ in strs]
            else:
                self.str_lists.pop(target.id, None)
            sv = self.string_value(value) if value is not None else (None, False)
            if isinstance(value, ast.JoinedStr):
                self.str_nodes[target.id] = value
            else:
                self.str_nodes.pop(target.id, None)
            if sv[0] is not None:
                self.str_consts[target.id] = sv
            else:
                self.str_consts.pop(target.id, None)
            if target.id == "result_df" and self.facts["result_df"] is None:
                self.facts["result_df"] = {"line": target.lineno}
        elif isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self.bind_target(e, None)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, None)
        else:
            self.expr(target)

    def collect_bindings(self, body):
        """Every name bound anywhere (so later uses are not "free")."""
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bound.add(node.name)
            elif isinstance(node, ast.alias):
                self.bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bound.add(node.name)

    def stmts(self, body):
        for s in body:
            self.stmt(s)

    def stmt(self, node):
        if isinstance(node, ast.Assign):
            t0, v = node.targets[0], node.value
            if len(node.targets) == 1 and isinstance(t0, (ast.Tuple, ast.List)) \
                    and isinstance(v, (ast.Tuple, ast.List)) and len(t0.elts) == len(v.elts) \
                    and not any(isinstance(e, ast.Starred) for e in t0.elts + v.elts):
                # a, b = read_table("x"), read_table("y")
                for te, ve in zip(t0.elts, v.elts):
                    self.bind_target(te, ve, self.expr(ve))
                return
            fr = self.expr(v)
            plain = self.value_expr(v)
            is_dict = isinstance(v, (ast.Dict, ast.DictComp)) or (
                isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "dict")
            for t in node.targets:
                if isinstance(t, ast.Name):
                    (self.dict_names.add if is_dict else self.dict_names.discard)(t.id)
                    (self.str_names.add if self.stringish(v) else self.str_names.discard)(t.id)
                self.bind_target(t, v, fr)
                for nm in ast.walk(t):
                    if isinstance(nm, ast.Name):
                        (self.value_names.add if plain else self.value_names.discard)(nm.id)
        elif isinstance(node, ast.AnnAssign):
            fr = self.expr(node.value) if node.value is not None else None
            self.expr(node.annotation)
            self.bind_target(node.target, node.value, fr)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            self.expr(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                mod = a.name if isinstance(node, ast.Import) else (node.module or "")
                entry = {"module": mod, "line": node.lineno, "col": node.col_offset,
                         "level": getattr(node, "level", 0) or 0, "alias": a.asname,
                         "names": [a.name] if isinstance(node, ast.ImportFrom) else []}
                self.facts["imports"].append(entry)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                self.expr(d)
            self.bind_args(node.args)
            self.stmts(node.body)
        elif isinstance(node, ast.ClassDef):
            for b in node.bases:
                self.expr(b)
            self.stmts(node.body)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self.bind_target(node.target, None)
            self.stmts(node.body)
            self.stmts(node.orelse)
        elif isinstance(node, (ast.While, ast.If)):
            self.expr(node.test)
            self.stmts(node.body)
            self.stmts(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                fr = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.bind_target(item.optional_vars, None, fr)
            self.stmts(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.stmts(node.body)
            for h in node.handlers:
                self.expr(h.type)
                self.stmts(h.body)
            self.stmts(node.orelse)
            self.stmts(node.finalbody)
        elif hasattr(ast, "Match") and isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                self.expr(case.guard)
                self.stmts(case.body)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def run(self, source):
        try:
            return self.analyse(source)
        except RecursionError:
            msg = "code nested too deeply to analyse"
        except Exception as e:  # fail closed: code we cannot read is not passed
            msg = "the analyser could not read this code (%s: %s)" % (type(e).__name__, e)
        facts = Analyzer().facts
        facts["syntax_error"] = {"line": 1, "col": 0, "msg": msg}
        return facts

    def analyse(self, source):
        try:
            tree = ast.parse(source, "<generated>")
        except SyntaxError as e:
            self.facts["syntax_error"] = {"line": e.lineno or 1, "col": max((e.offset or 1) - 1, 0),
                                          "msg": e.msg}
            return self.facts
        except (ValueError, MemoryError, RecursionError) as e:
            self.facts["syntax_error"] = {"line": 1, "col": 0, "msg": str(e)}
            return self.facts
        body = tree.body
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "transform" \
                    and node.args.args and node.args.args[0].arg == "read_table":
                self.facts["mode"] = "job"
                body = node.body
                for a in node.args.args:
                    self.bound.add(a.arg)
                break
        self.collect_bindings(body)
        self.collect_aliases(body)
        self.security_pass(body)
        # The contract's names are provided by the job, not bound by the body; they
        # are still "free" so that the policy sees exactly what the body uses.
        self.stmts(body)
        self.facts["frames"] = {k: v.to_json() for k, v in sorted(self.frames.items())}
        return self.facts


def analyze(code):
    """The facts about one body or job (a str): the analysis as a function."""
    return Analyzer().run(code)


def facts_of(data):
    """The facts about one input (bytes): never raises for any input."""
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as e:
        facts = Analyzer().facts
        facts["syntax_error"] = {"line": 1, "col": 0, "msg": "not UTF-8: %s" % e.reason}
        return facts
    return analyze(source)


def serve():
    """--serve: one request per stdin line, {"id": N, "code": "..."} (N an integer), one
    reply per stdout line in the same order, exactly `{"id": N, "facts": {...}}` (or
    {"id": ..., "error": "..."} for a line that is not such a request), until stdin
    closes. A thread reads the requests as they come, so a client that writes many
    requests before reading any reply never waits on a full pipe while this process
    waits on it."""
    import queue
    import threading

    lines = queue.Queue()

    def reader():
        for line in sys.stdin.buffer:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    out = sys.stdout.buffer
    while True:
        line = lines.get()
        if line is None:
            return
        rid = None
        try:
            try:
                req = json.loads(line.decode("utf-8"))
                code = req["code"].encode("utf-8")
            except UnicodeError:
                # invalid UTF-8 inside the code: keep its bytes, report it as the
                # one-shot mode does
                req = json.loads(line.decode("utf-8", "surrogateescape"))
                code = req["code"].encode("utf-8", "surrogateescape")
            rid = req.get("id")
            if not isinstance(rid, int) or isinstance(rid, bool):
                raise ValueError("id must be an integer")
            facts = json.dumps(facts_of(code), sort_keys=True)
            # Written in this exact shape so that the client can keep the facts' own
            # JSON text (its cache entry) without encoding them again.
            reply = '{"id": %d, "facts": %s}' % (rid, facts)
        except Exception as e:  # a malformed request line: say so, keep serving
            reply = json.dumps({"id": rid, "error": "bad request line (%s: %s)" % (type(e).__name__, e)})
        out.write(reply.encode("ascii") + b"\n")
        out.flush()


def main():
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    facts = facts_of(sys.stdin.buffer.read())
    json.dump(facts, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
