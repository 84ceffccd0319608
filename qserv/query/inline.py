"""Inline tables: rows the czar holds (TAP_SCHEMA, TAP uploads) read by queries like catalog tables.

An inline table is a TableInfo of kind ``inline`` whose ``rows`` is a pyarrow.Table. A query that
reads only inline tables is evaluated by the czar over its Arrow rows (:func:`czar_relations`); one
that joins them with catalog tables sends their rows to the workers inside each statement, as a
typed ``VALUES`` list (:func:`placeholders` puts slots in the tree, ``qserv.query.render`` fills
them with :func:`values_sql`), so they join like a replicated table. Pure: no I/O.
"""

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from qserv.errors import UserError
from qserv.query.joins import table_key
from qserv.query.slots import slot
from qserv.query.tables import Partitioning, TableInfo
from qserv.schema.columns import Column, SchemaError, check_identifier, column_of_field
from qserv.schema.types import arrow_type, datatype_from_arrow, duckdb_type, postgres_type
from qserv.storage import quote

PLACEHOLDER = "_qserv_inline_"
_NO_PARTITIONING = Partitioning(0, 0, 0.0)


def inline_table(database, name, rows, columns=None):
    """A TableInfo for ``rows`` (a pyarrow.Table) known as ``database.name``. Column declarations
    come from ``columns``, else from the fields' metadata, else from the Arrow types; the rows are
    cast to the declared types."""
    check_identifier(name, "table")
    if columns is None:
        columns = [_column_of(field) for field in rows.schema]
    names = [column.name.lower() for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"table {database}.{name}: column names repeated: {', '.join(repeated)}")
    target = pa.schema([pa.field(c.name, arrow_type(c)) for c in columns])
    try:
        rows = pa.Table.from_arrays([column.cast(field.type) for column, field in zip(rows.columns, target)],
                                    schema=target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UserError(f"table {database}.{name}: {error}") from None
    return TableInfo(database=database, name=name, kind="inline", columns=tuple(columns),
                     partitioning=_NO_PARTITIONING, rows=rows)


def _column_of(field):
    declared = column_of_field(field)
    if declared is not None:
        return Column(**{**declared.to_dict(), "name": field.name})
    try:
        return Column(name=field.name, datatype=datatype_from_arrow(field.type, field.name))
    except SchemaError as error:
        raise UserError(str(error)) from None


def _inline_tables(tree, tables):
    return [(table, tables[table_key(table)]) for table in tree.find_all(exp.Table)
            if table_key(table) in tables and tables[table_key(table)].inline]


def _renamed(tree, tables, source, copy=True):
    """A copy of ``tree`` (or ``tree`` itself when not ``copy``) whose inline tables read
    ``source(name)`` (aliased as before) for names ``_qserv_inline_<k>``, and [(name, TableInfo)]
    in that order."""
    if copy:
        tree = tree.copy()
    found = []
    for table, info in _inline_tables(tree, tables):
        name = f"{PLACEHOLDER}{len(found)}"
        alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name, quoted=True))
        table.replace(exp.Table(this=source(name), alias=alias))
        found.append((name, info))
    return tree, found


def czar_relations(tree, tables):
    """(tree, {relation name: pyarrow.Table}) for evaluating ``tree`` at the czar."""
    tree, found = _renamed(tree, tables, lambda name: exp.to_identifier(name, quoted=True))
    return tree, {name: info.rows for name, info in found}


def placeholders(tree, tables, copy=True):
    """(tree, [(slot key, TableInfo)]): inline tables replaced by slots (``qserv.query.slots``)
    that stand for the ``(SELECT ...)`` of :func:`values_sql` in the emitted SQL."""
    return _renamed(tree, tables, slot, copy)


def values_sql(info, rows, backend):
    """``SELECT`` of ``rows`` with ``info``'s column names and SQL types, on ``backend``."""
    type_of = duckdb_type if backend == "duckdb" else postgres_type
    if rows.num_rows == 0:
        items = ", ".join(f"CAST(NULL AS {type_of(c)}) AS {quote(c.name)}" for c in info.columns)
        return f"SELECT {items} WHERE FALSE"
    literals = [_literals(column, backend) for column in rows.columns]
    tuples = ", ".join(f"({', '.join(row)})" for row in zip(*literals))
    items = ", ".join(f"CAST(c{i} AS {type_of(c)}) AS {quote(c.name)}" for i, c in enumerate(info.columns))
    names = ", ".join(f"c{i}" for i in range(len(info.columns)))
    return f"SELECT {items} FROM (VALUES {tuples}) AS _qserv_values({names})"


def _literals(column, backend):
    """SQL string literals of a column's values (the outer CAST types them); NULL for nulls."""
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        if backend == "duckdb":
            return ["NULL" if v is None else "'" + "".join(f"\\x{b:02x}" for b in v) + "'"
                    for v in column.to_pylist()]
        return ["NULL" if v is None else f"'\\x{v.hex()}'" for v in column.to_pylist()]
    text = pc.cast(column, pa.string()).to_pylist()
    return ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in text]
