"""The functions a user query may call: an allowlist, checked on the parsed tree (pure).

Worker and czar engines offer far more than a catalog query needs, including functions that read
files or list directories (``read_csv``, ``read_text``, ``glob``, ``pg_read_file``, ``pg_ls_dir``),
run SQL given as text (DuckDB's ``query``), wait (``pg_sleep``) or tell about the engine and the
statement it runs (``version()``, ``current_setting(...)``, ``current_query()``). A query may call
only the functions below; any other function, and any function in FROM (a table function), is a
``QuerySyntaxError`` naming the function and its line and column.

Allowed: ADQL 2.1 geometry and mathematics, the Qserv restrictors and ``scisql_*`` functions of
``qserv.sql.worker_functions``, aggregates, ``CASE`` / ``COALESCE`` / ``NULLIF`` / ``CAST`` and
common string and date parts. Some of them are refused later with a more precise message (ADQL
``AREA``, window functions, ``STDDEV`` across chunks...).
"""

from sqlglot import exp

from qserv.errors import QuerySyntaxError
from qserv.sql.worker_functions import FUNCTION_NAMES

# sqlglot's typed nodes that are functions or operators spelt as functions.
_TYPED = (
    # operators and conditionals
    exp.And, exp.Or, exp.Xor, exp.Exists, exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Cast,
    exp.TryCast, exp.Greatest, exp.Least, exp.Contains,  # CONTAINS(POINT, region) in Qserv SQL
    # mathematics (ADQL 2.1 section 2.3 and MySQL's equivalents)
    exp.Abs, exp.Acos, exp.Asin, exp.Atan, exp.Atan2, exp.Ceil, exp.Cos, exp.Cot, exp.Degrees,
    exp.Exp, exp.Floor, exp.Ln, exp.Log, exp.Pi, exp.Pow, exp.Radians, exp.Rand, exp.Round,
    exp.Sign, exp.Sin, exp.Sqrt, exp.Tan, exp.Trunc,
    # aggregates and the window functions the planner names in its refusal
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Stddev, exp.StddevPop, exp.StddevSamp,
    exp.Variance, exp.VariancePop, exp.Median, exp.GroupConcat, exp.RowNumber,
    # strings and dates
    exp.Lower, exp.Upper, exp.Length, exp.Substring, exp.Trim, exp.Concat, exp.Extract, exp.Hex,
    exp.Year, exp.Month, exp.Day, exp.TsOrDsToDate,
    exp.CurrentSchema,  # DATABASE(): the query's default database
)
# Calls sqlglot leaves anonymous, by upper-case name: ADQL geometry (some refused later by
# ``qserv.sql.adql``), Qserv restrictors and the scisql functions.
_NAMED = frozenset({
    "POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE", "COORD1", "COORD2",
    "AREA", "CENTROID", "REGION", "IN_UNIT", "COORDSYS",
    "QSERV_AREASPEC_BOX", "QSERV_AREASPEC_CIRCLE", "QSERV_AREASPEC_ELLIPSE", "QSERV_AREASPEC_POLY",
    "SCISQL_S2PTINCPOLY", "SCISQL_MEDIAN",
    *(name.upper() for name in FUNCTION_NAMES),
})


def _allowed(node):
    if isinstance(node, exp.Anonymous):
        return node.name.upper() in _NAMED
    return isinstance(node, _TYPED)


def _refusal(node, text, what):
    """The error for ``node`` (a function call parsed from ``text``), naming it and its place."""
    meta = node.meta
    start, end = meta.get("start"), meta.get("end")
    spelled = text[start:end + 1] if start is not None and end is not None and text else None
    name = spelled or (node.name if isinstance(node, exp.Anonymous) else node.sql_name())
    place = ""
    if start is not None and "line" in meta:
        place = f" at line {meta['line']}, column {start - (text.rfind(chr(10), 0, start) + 1) + 1}"
    return QuerySyntaxError(f"{what} {name}(){place} is not allowed in a query")


def check_functions(tree, text=""):
    """Refuse a table function or a function outside the allowlist anywhere in ``tree`` (parsed
    from ``text``, used to name the function as written and to place it)."""
    for node in tree.walk():
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
            raise _refusal(node.this, text, "table function")
        if isinstance(node, exp.Func) and not _allowed(node):
            raise _refusal(node, text, "function")
    return tree
