"""Rule: SUM and AVG of single-precision (Felis ``float``) columns are computed in double precision.

DuckDB sums REAL values as DOUBLE, PostgreSQL sums them as REAL: per-chunk partial sums on
PostgreSQL workers would lose digits that the answer of one unsharded table keeps (AVG of a float
column came out ~5e-7 off, differently from run to run). Casting the aggregate's argument to
DOUBLE where it reads such a column gives every backend DuckDB's answer. Pure; idempotent.
"""

from sqlglot import exp

from qserv.query.joins import table_key

SINGLE_PRECISION = "float"
_DOUBLE = exp.DataType.build("DOUBLE")


def widen_float_sums(tree, tables):
    """``tree`` (changed in place) with the argument of every SUM/AVG that reads a float column of
    ``tables`` ("db.table" -> TableInfo) cast to DOUBLE."""
    for aggregate in list(tree.find_all(exp.Sum, exp.Avg)):
        argument = aggregate.this
        if argument is None or isinstance(argument, exp.Distinct) or _is_double_cast(argument):
            continue
        columns = [argument] if isinstance(argument, exp.Column) else list(argument.find_all(exp.Column))
        if any(_single_precision(column, tables) for column in columns):
            aggregate.set("this", exp.Cast(this=argument.copy(), to=_DOUBLE.copy()))
    return tree


def _is_double_cast(node):
    return isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE


def _single_precision(column, tables):
    """Whether ``column`` reads a float column of a catalog table of its own SELECT."""
    select = column.find_ancestor(exp.Select)
    if select is None:
        return False
    sources = [select.args["from_"].this] if select.args.get("from_") else []
    sources += [join.this for join in select.args.get("joins") or []]
    for source in sources:
        info = tables.get(table_key(source)) if isinstance(source, exp.Table) else None
        if info is None:
            continue
        if column.table and column.table.lower() != source.alias_or_name.lower():
            continue
        declared = [c for c in info.columns if c.name.lower() == column.name.lower()]
        if declared:
            return declared[0].datatype == SINGLE_PRECISION
    return False
