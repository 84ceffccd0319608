"""The czar's in-memory DuckDB: merges partial results, evaluates czar plans and types results.

One connection per engine holds the worker functions (so merge expressions such as
``scisql_fluxToAbMag(SUM(...))`` mean what they mean on workers) and an empty copy of every catalog
table, in its database's schema. Running the user's query over those empty tables is cheap and gives
two things before any worker is asked: a clear error for a query DuckDB cannot bind, and the result
schema an unsharded DuckDB would produce, which the merged result is cast to (HUGEINT sums as int64).
Each query works on its own cursor, so its registered Arrow tables are private to it.
"""

import threading

import duckdb
import pyarrow as pa

from qserv.errors import QueryBindError, QueryDataError, ResultTooLargeError, ServiceError
from qserv.exec.dispatch import user_fault
from qserv.schema.types import duckdb_type
from qserv.sql.worker_functions import function_sql
from qserv.storage import quote

CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
          "enable_external_access": False, "lock_configuration": True}  # no files, no SET


def _plain_type(data_type):
    """Result types as users expect them: integral decimals (DuckDB HUGEINT sums) as int64, other
    decimals as float64."""
    if pa.types.is_decimal(data_type):
        return pa.int64() if data_type.scale == 0 else pa.float64()
    return data_type


def _plain_schema(schema):
    return pa.schema([pa.field(f.name, _plain_type(f.type)) for f in schema])


# DuckDB type names -> the Arrow type a result column of that type has (after ``_plain_type``).
_BOUND_TYPES = {
    "BOOLEAN": pa.bool_(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INTEGER": pa.int32(),
    "BIGINT": pa.int64(), "HUGEINT": pa.int64(), "UTINYINT": pa.uint8(), "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(), "UBIGINT": pa.uint64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(), "BLOB": pa.binary(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
}


NESTED_TYPES = ("struct", "tuple", "list", "array", "map", "union")  # DuckDB type ids


def bound_arrow_type(duckdb_name):
    """The result Arrow type of a bound DuckDB column type, or None when it has no plain mapping
    (the caller then asks DuckDB for the Arrow schema)."""
    if duckdb_name.startswith("DECIMAL(") and duckdb_name.endswith(")"):
        scale = duckdb_name[8:-1].split(",")[-1].strip()
        return pa.int64() if scale == "0" else pa.float64()
    return _BOUND_TYPES.get(duckdb_name)


class Czar:
    def __init__(self, memory_mb=None, spill_dir=None):
        self.memory_mb = memory_mb  # DuckDB's memory_limit of the czar's connection (None: its default)
        # ``spill_dir``: where DuckDB may spill (default: ``.tmp`` in the current directory)
        memory = {} if memory_mb is None else {"memory_limit": f"{memory_mb}MiB"}
        spill = {} if spill_dir is None else {"temp_directory": str(spill_dir)}
        self._database = duckdb.connect(config={**CONFIG, **memory, **spill})
        for statement in function_sql("duckdb"):
            self._database.execute(statement)
        self._tables = {}  # "db.table" -> columns signature of its empty copy
        self._lock = threading.Lock()

    def close(self):
        self._database.close()

    def sync_tables(self, tables):
        """Keep an empty copy of every catalog table (``tables``: "db.table" -> TableInfo)."""
        with self._lock:
            for key, info in tables.items():
                signature = tuple((c.name, duckdb_type(c)) for c in info.columns)
                if self._tables.get(key) == signature:
                    continue
                name = f"{quote(info.database)}.{quote(info.name)}"
                columns = ", ".join(f"{quote(n)} {t}" for n, t in signature)
                self._database.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(info.database)}")
                self._database.execute(f"CREATE OR REPLACE TABLE {name} ({columns})")
                self._tables[key] = signature

    def result_schema(self, sql, relations=None):
        """The schema of ``sql`` (DuckDB SQL over the catalog tables and the Arrow tables
        ``relations``, name -> pyarrow.Table) on an unsharded DuckDB. Binding the statement gives
        the column types; only when one has no plain Arrow equivalent is it run (on no rows)."""
        cursor = self._database.cursor()
        try:
            for name, table in (relations or {}).items():
                cursor.register(name, table.slice(0, 0))
            relation = cursor.sql(sql)
            if relation is None:
                raise QueryBindError("the query cannot be evaluated: it returns no rows")
            types = [bound_arrow_type(str(t)) for t in relation.types]
            for name, bound in zip(relation.columns, relation.types):
                if bound.id in NESTED_TYPES:
                    raise QueryBindError(f"result column {name!r} has the type {bound}: a result holds "
                                         "plain values (numbers, text, times), not rows or lists")
            if any(t is None for t in types):
                return _plain_schema(relation.limit(0).to_arrow_table().schema)
            return pa.schema([pa.field(name, data_type) for name, data_type in zip(relation.columns, types)])
        except duckdb.Error as exc:
            raise QueryBindError(f"the query cannot be evaluated: {str(exc).strip()}") from None
        finally:
            cursor.close()

    def run(self, sql, relations, cancellation=None):
        """``sql`` over the Arrow tables ``relations`` (name -> pyarrow.Table). With a
        ``cancellation`` (qserv.exec.cancel), the statement stops when the query is cancelled or
        reaches its deadline (QueryCancelledError). The query's own faults (a conversion on its
        rows, more memory than ``czar_memory_mb``) are UserErrors."""
        cursor = self._database.cursor()
        try:
            for name, table in relations.items():
                cursor.register(name, table)
            if cancellation is None:
                return cursor.sql(sql).to_arrow_table()
            with cancellation.interruptible(cursor.interrupt), cancellation.timed():
                return cursor.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            if (fault := user_fault(exc)) is not None:
                raise fault from None
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise ResultTooLargeError(
                    f"the query needs more memory at the czar than its limit of {self.memory_mb} MiB "
                    "(setting czar_memory_mb); narrow the query (WHERE, fewer rows from uploads or CTEs)"
                ) from None
            raise ServiceError(f"merging the partial results failed: {str(exc).strip()}") from exc
        finally:
            cursor.close()


def conform(result, schema):
    """``result`` with the names and types of ``schema`` (same column count, safe casts)."""
    if result.num_columns != len(schema):
        raise ServiceError(f"the merged result has {result.num_columns} columns, expected {len(schema)}")
    columns = []
    for column, field in zip(result.columns, schema):
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except pa.ArrowInvalid as exc:  # a value out of the type's range: the query's values
                raise QueryDataError(f"column {field.name!r}: a value does not fit {field.type}: {exc}") from None
            except pa.ArrowNotImplementedError as exc:
                raise ServiceError(f"column {field.name!r}: cannot convert {column.type} to {field.type}: "
                                   f"{exc}") from exc
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
