"""policyfacts.py - the facts the code policy depends on, for py/analyze.py.

An exhaustive walk of every node of the body (not the semantic visitor, which may skip
what it does not understand): names read but never bound, calls, private and dunder
attributes, members of pyspark.sql.functions (F), pyspark.sql.types (T) and Window
through every alias, the session's attributes, Python shipped to executors, JVM-only
APIs, attributes of standard-library modules that are modules, format strings that walk
attributes, decorators and classes, reads and writes. lua/sparkgen/lint/python.lua
judges them. Stdlib only; imported by path by analyze.py (which runs as python3 -I -S).
"""
import ast
import importlib
import string
import sys

# The modules a body reaches pyspark's API through (canonical names as in the job).
API_MODULES = {"pyspark.sql.functions": "F", "pyspark.sql.types": "T",
               "pyspark.sql.window.Window": "Window", "pyspark.sql.Window": "Window",
               "pyspark.sql.functions.builtin": "F"}
# Attributes that ship Python to the executors, need the JVM (not Spark Connect), or
# reach the session; reported wherever they appear (lint.lua judges them).
EXECUTOR_ATTRS = {"mapInPandas", "mapInArrow", "applyInPandas", "applyInArrow",
                  "applyInPandasWithState", "applyInArrowWithState", "transformWithState",
                  "transformWithStateInPandas", "foreach", "foreachPartition", "foreachBatch",
                  "pandas_api", "udf", "udtf", "dataSource", "registerJavaFunction",
                  "registerJavaUDAF"}
JVM_ATTRS = {"sparkContext", "rdd", "sql_ctx", "sqlContext", "_jvm", "_jdf", "_jsc",
             "_jsparkSession", "_jcol", "_jc", "_sc", "_gateway", "_jconf", "_jreader",
             "_jwrite", "_jseq"}
SESSION_ATTRS = {"sparkSession"}
API_ATTRS = EXECUTOR_ATTRS | JVM_ATTRS | SESSION_ATTRS
# Standard-library modules the analyser may import itself to see which of their
# attributes are modules (typing.sys, dataclasses.builtins reach the interpreter).
STDLIB_CHECKED = {"datetime", "decimal", "math", "functools", "itertools", "operator", "re",
                  "typing", "collections", "calendar", "string", "statistics", "dataclasses",
                  "enum", "numbers", "fractions"}
# Members of those modules that are introspection or evaluation in disguise.
DANGEROUS_MEMBERS = {"Formatter", "attrgetter", "methodcaller", "get_type_hints",
                     "make_dataclass", "ForwardRef", "_eval_type", "evaluate_forward_ref",
                     "get_annotations"}
# Methods that take SQL text: referenced other than by a direct call, their argument
# cannot be seen (q = spark.sql; q(text)).
SQL_METHODS = {"sql", "selectExpr", "expr", "filter", "where"}
# Attribute names that mean "read data some way other than read_table".
READ_ATTRS = {"read", "readStream", "jdbc", "textFile", "wholeTextFiles",
              "binaryFiles", "binaryRecords", "hadoopFile", "newAPIHadoopFile",
              "sequenceFile", "pickleFile", "objectFile", "addFile", "addPyFile"}
WRITE_ATTRS = {"write", "writeStream", "writeTo", "saveAsTable", "insertInto",
               "createTable", "createExternalTable", "mergeInto"}


def chain(node):
    """Dotted name for an attribute chain: F.col -> "F.col"; f(x).m -> "<expr>.m"."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    else:
        parts.append("<expr>")
    return ".".join(reversed(parts))


def where(node):
    """(line, col) of what a finding should point at: for `a.b(...)` spread over a
    chain of lines, the line holding `.b`, not the line where the chain starts."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute) and getattr(node, "end_lineno", None):
        return node.end_lineno, max(node.end_col_offset - len(node.attr), 0)
    return node.lineno, node.col_offset


def root_name(node):
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None



class PolicyFacts:
    """Mixed into analyze.Analyzer: uses its facts, bound names and string_value."""

    def init_policy_state(self):
        self.api_modules = {"F": "F", "functions": "F", "T": "T", "Window": "Window"}
        self.api_imported = set()  # names imported from those modules
        self.api_funcs = {}        # local name -> (api, member name)
        self.spark_names = {"spark"}  # the session, and names assigned from it
        self.module_names = {}     # local name -> standard-library module imported

    def collect_aliases(self, body):
        """Every name that refers to pyspark.sql.functions (F), pyspark.sql.types (T),
        Window or one of their members, and every alias of the session `spark`,
        however it was imported or assigned (flow-insensitive: once an alias, always)."""
        nodes = list(ast.walk(ast.Module(body=body, type_ignores=[])))
        for node in nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in API_MODULES and a.asname:
                        self.api_modules[a.asname] = API_MODULES[a.name]
                    elif a.name.split(".")[0] in STDLIB_CHECKED:
                        self.module_names[a.asname or a.name.split(".")[0]] = \
                            a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                for a in node.names:
                    local = a.asname or a.name
                    full = "%s.%s" % (node.module, a.name)
                    if full in API_MODULES:
                        self.api_modules[local] = API_MODULES[full]
                    elif node.module in API_MODULES and a.name != "*":
                        self.api_funcs[local] = (API_MODULES[node.module], a.name)
                        self.api_imported.add(local)
        changed = True
        while changed:  # G = F; e = G.expr; e2 = e; s = spark
            changed = False
            for node in nodes:
                if not isinstance(node, (ast.Assign, ast.NamedExpr)):
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                canon = self.api_canonical(node.value)
                for t in targets:
                    if not isinstance(t, ast.Name):
                        continue
                    if isinstance(node.value, ast.Name) and node.value.id in self.spark_names \
                            and t.id not in self.spark_names:
                        self.spark_names.add(t.id)
                        changed = True
                    if canon is None:
                        continue
                    if "." not in canon and self.api_modules.get(t.id) != canon:
                        self.api_modules[t.id] = canon
                        changed = True
                    elif "." in canon and self.api_funcs.get(t.id) != tuple(canon.split(".", 1)):
                        self.api_funcs[t.id] = tuple(canon.split(".", 1))
                        changed = True

    def api_canonical(self, node):
        """"F" / "T" / "Window" for those modules, "F.name" for a member, else None."""
        if isinstance(node, ast.Name):
            if node.id in self.api_modules:
                return self.api_modules[node.id]
            if node.id in self.api_funcs:
                return "%s.%s" % self.api_funcs[node.id]
            return None
        if isinstance(node, ast.Attribute):
            dotted = chain(node)
            if dotted in API_MODULES:
                return API_MODULES[dotted]
            base = self.api_canonical(node.value)
            if base is not None and "." not in base:
                return base + "." + node.attr
            if chain(node.value) in API_MODULES:
                return API_MODULES[chain(node.value)] + "." + node.attr
        return None

    def f_canonical(self, node):
        """"F" for pyspark.sql.functions, "F.name" for one of its functions, else None."""
        canon = self.api_canonical(node)
        return canon if canon is not None and (canon == "F" or canon.startswith("F.")) else None

    @staticmethod
    def member_problem(module, attr):
        """Why `module.attr` is not a plain function or value: a module (typing.sys)
        or a member that evaluates or introspects; None when it is fine."""
        if attr in DANGEROUS_MEMBERS:
            return "evaluates text or reaches attributes by name"
        if module.split(".")[0] not in STDLIB_CHECKED:
            return None
        try:
            mod = importlib.import_module(module)
        except Exception:  # not importable here: nothing to say
            return None
        if isinstance(getattr(mod, attr, None), type(sys)):
            return "a module, which reaches the whole interpreter"
        return None

    def format_problem(self, node):
        """str.format / format_map whose format string could traverse attributes:
        "{0.__init__.__globals__}".format(x). None when the format string is a literal
        with plain fields."""
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("format", "format_map"):
            return None
        target = func.value
        if chain(target) == "str" and node.args:
            target = node.args[0]
        dotted = chain(func)
        if any(p in ("read", "write", "readStream", "writeStream") for p in dotted.split(".")):
            return None  # spark.read.format("jdbc"): reported as a read or a write
        text, literal = self.string_value(target)
        if text is None or not literal:
            return "%s() on a format string that is not a literal cannot be checked" % func.attr
        pending = [text]
        while pending:
            try:
                fields = list(string.Formatter().parse(pending.pop()))
            except ValueError as e:
                return "bad format string: %s" % e
            for _, field, spec, _ in fields:
                if field and any(c in field for c in ".["):
                    return "format field {%s} reaches attributes or items by name" % field
                if spec and "{" in spec:
                    pending.append(spec)
        return None

    def security_pass(self, body):
        """Facts the policy depends on, from an exhaustive walk of every node (not
        from the semantic visitor, which may skip what it does not understand)."""
        nodes = list(ast.walk(ast.Module(body=body, type_ignores=[])))
        called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
        nargs = {id(n.func): len(n.args) + len(n.keywords) for n in nodes if isinstance(n, ast.Call)}
        free = {}
        for n in nodes:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id not in self.bound:
                    pos = (n.lineno, n.col_offset)
                    if n.id not in free or pos < free[n.id]:
                        free[n.id] = pos
                if n.id == "read_table" and id(n) not in called \
                        and "read_table" not in self.bound:
                    # rt = read_table; rt(name) would hide which tables are read
                    self.facts["read_table_refs"].append({"line": n.lineno, "col": n.col_offset})
            if isinstance(n, (ast.Name, ast.Attribute)) and isinstance(getattr(n, "ctx", None), ast.Load):
                canon = self.api_canonical(n)
                # a name assigned from F.x was reported where F.x was read
                if canon and "." in canon and (isinstance(n, ast.Attribute) or n.id in self.api_imported):
                    line, col = where(n)
                    api, member = canon.split(".", 1)
                    self.facts["api_refs"].append({"api": api, "name": member, "called": id(n) in called,
                                                   "nargs": nargs.get(id(n), 0), "line": line, "col": col})
            if isinstance(n, ast.Attribute):
                self.attribute_fact(n, called=id(n) in called)
                line, col = where(n)
                if n.attr in SQL_METHODS and id(n) not in called and self.f_canonical(n.value) != "F":
                    self.facts["sql_refs"].append({"name": n.attr, "line": line, "col": col})
                if isinstance(n.value, ast.Name) and n.value.id in self.spark_names:
                    self.facts["spark_refs"].append({"name": n.attr, "line": line, "col": col})
                if n.attr in API_ATTRS and self.api_canonical(n.value) is None:
                    self.facts["api_attrs"].append({"name": n.attr, "line": line, "col": col})
                if isinstance(n.value, ast.Name) and n.value.id in self.module_names:
                    why = self.member_problem(self.module_names[n.value.id], n.attr)
                    if why:
                        self.facts["module_attrs"].append({"module": n.value.id, "attr": n.attr,
                                                           "why": why, "line": line, "col": col})
            elif isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in n.decorator_list:
                    self.facts["syntax"].append({"what": "decorator", "line": d.lineno,
                                                 "col": d.col_offset})
                if isinstance(n, ast.ClassDef):
                    self.facts["syntax"].append({"what": "class", "line": n.lineno, "col": n.col_offset})
                elif isinstance(n, ast.AsyncFunctionDef):
                    self.facts["syntax"].append({"what": "async", "line": n.lineno, "col": n.col_offset})
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                self.facts["syntax"].append({"what": type(n).__name__.lower(), "line": n.lineno,
                                             "col": n.col_offset})
            elif isinstance(n, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
                self.facts["syntax"].append({"what": "async", "line": n.lineno, "col": n.col_offset})
            elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module in STDLIB_CHECKED:
                for a in n.names:
                    why = self.member_problem(n.module, a.name)
                    if why:
                        self.facts["module_attrs"].append({"module": n.module, "attr": a.name,
                                                           "why": why, "line": n.lineno, "col": n.col_offset})
            if isinstance(n, ast.Call):
                problem = self.format_problem(n)
                if problem:
                    line, col = where(n)
                    self.facts["formats"].append({"problem": problem, "line": line, "col": col})
            if isinstance(n, ast.Call):
                func = n.func
                canon = self.f_canonical(func)
                name = canon if canon else \
                    (chain(func) if isinstance(func, (ast.Name, ast.Attribute)) else "<expr>")
                line, col = where(n)
                self.facts["calls"].append({"name": name, "line": line, "col": col})
                if isinstance(func, ast.Attribute) and func.attr == "table" \
                        and root_name(func.value) in ("spark", "sqlContext"):
                    self.facts["reads"].append({"kind": chain(func), "line": line, "col": col})
        self.facts["free_names"] = [{"name": k, "line": v[0], "col": v[1]}
                                    for k, v in sorted(free.items(), key=lambda kv: kv[1])]
        for key in ("calls", "reads", "writes", "private_attrs", "read_table_refs", "api_refs",
                    "sql_refs", "spark_refs", "syntax", "formats", "module_attrs", "api_attrs"):
            self.facts[key].sort(key=lambda f: (f["line"], f["col"]))

    def attribute_fact(self, node, called=False):
        attr = node.attr
        line, col = where(node)
        if attr.startswith("__") and attr.endswith("__"):
            self.facts["private_attrs"].append({"name": attr, "line": line, "col": col})
        elif attr.startswith("_") and attr not in JVM_ATTRS:
            self.facts["private_attrs"].append({"name": attr, "line": line, "col": col})
        if attr in WRITE_ATTRS or attr.startswith("saveAs"):
            self.facts["writes"].append({"method": attr, "line": line, "col": col})
        # spark.read is a property; f.read() is a file method (caught as open())
        if attr in READ_ATTRS and not (called and attr in ("read", "readStream")):
            self.facts["reads"].append({"kind": chain(node), "line": line, "col": col})
