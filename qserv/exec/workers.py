"""The table rules both worker backends share (stored columns, CREATE TABLE, row conformance).

Opening a worker is ``qserv.exec.backends.open_worker``; the worker errors are in ``qserv.errors``.
"""

import pyarrow as pa

from qserv.errors import SchemaMismatchError
from qserv.schema.columns import Column, SchemaError, check_identifier
from qserv.storage import NULLABLE_SYSTEM_COLUMNS, SYSTEM_COLUMNS, quote


def check_table(table):
    """Physical table names follow the identifier rule (PostgreSQL would cut them at 63 bytes)."""
    return check_identifier(table, "physical table")


def stored_columns(columns):
    """(name, type, nullable) of a stored table's columns: the user's, then SYSTEM_COLUMNS.

    ``type`` is what the type map takes: the user's Column, or a system column's datatype name.
    """
    columns = list(columns)
    for column in columns:
        if not isinstance(column, Column):
            raise SchemaError(f"expected a Column, got {column!r}")
    stored = [(column.name, column, column.nullable) for column in columns]
    stored += [(name, datatype, name in NULLABLE_SYSTEM_COLUMNS) for name, datatype in SYSTEM_COLUMNS]
    seen = set()
    for name, _, _ in stored:
        if name.lower() in seen:  # DuckDB identifiers are case-insensitive
            raise SchemaError(f"duplicate column name {name!r}")
        seen.add(name.lower())
    return stored


def create_table_sql(table, columns, type_name):
    """CREATE TABLE IF NOT EXISTS for ``table``, typing each column with ``type_name(type)``."""
    definitions = ", ".join(
        f"{quote(name)} {type_name(kind)}{'' if nullable else ' NOT NULL'}"
        for name, kind, nullable in stored_columns(columns)
    )
    return f"CREATE TABLE IF NOT EXISTS {quote(check_table(table))} ({definitions})"


def check_same_columns(worker, table, existing, columns):
    """An existing table must have the requested column names, in order; the ALTER TABLE
    statements adding the nullable system columns that a table stored by an older release lacks."""
    wanted = [name for name, _, _ in stored_columns(columns)]
    missing = wanted[len(existing):]
    if list(existing) == wanted[:len(existing)] and all(name in NULLABLE_SYSTEM_COLUMNS for name in missing):
        return [f"ALTER TABLE {quote(check_table(table))} ADD COLUMN {quote(name)} BIGINT" for name in missing]
    if list(existing) != wanted:
        raise SchemaMismatchError(
            f"worker {worker}: table {table} exists with columns {list(existing)}, not {wanted}"
        )


def conform(worker, table, rows, target):
    """``rows`` cast to the table's Arrow schema ``target``; lossy or impossible casts are refused."""
    if not isinstance(rows, pa.Table):
        raise SchemaMismatchError(f"worker {worker}: rows for table {table} must be a pyarrow.Table")
    if rows.column_names != target.names:
        raise SchemaMismatchError(
            f"worker {worker}: rows for table {table} have columns {rows.column_names}; "
            f"the table has {target.names}"
        )
    try:
        return rows.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaMismatchError(
            f"worker {worker}: rows for table {table} do not fit its column types: {exc}"
        ) from exc
