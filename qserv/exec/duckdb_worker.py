"""The DuckDB worker: one database file used in-process from many threads.

One DuckDB connection is opened per worker; every call runs on its own ``cursor()`` (a connection
to the same database instance), so threads never share a cursor. DuckDB appends never conflict,
so loads run in parallel; DDL, deletes and other statements are serialized by a lock because
DuckDB refuses concurrent catalog changes (write-write conflicts).

The database is opened without external access (no file readers, ``COPY ... TO``, ``ATTACH``,
``INSTALL``/``LOAD``; Arrow tables registered by ingest still load) and with its configuration
locked, and ``query`` runs exactly one SELECT statement: SQL that reached a worker by mistake can
read the worker's tables and nothing else.
"""

from contextlib import contextmanager, nullcontext
from pathlib import Path
import threading
import warnings

import duckdb
import pyarrow as pa

from qserv.errors import WorkerQueryError, WorkerUnavailableError
from qserv.exec.worker import Worker
from qserv.exec.workers import check_same_columns, check_table, conform, create_table_sql
from qserv.storage import quote

# ``keyed`` reads an UPDATE ... RETURNING result, which only the DB-API path runs exactly once.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)

# Never fetch extensions at run time, never touch files other than the database's own, and let
# no statement change that.
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
          "enable_external_access": False, "lock_configuration": True}


class DuckDBWorker(Worker):
    backend = "duckdb"

    def __init__(self, name, path):
        self.name = name
        self.path = str(path)
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._database = duckdb.connect(self.path, config=CONFIG)
        except (OSError, duckdb.Error) as exc:
            raise WorkerUnavailableError(
                f"worker {name}: cannot open DuckDB database {self.path}: {exc}"
            ) from exc
        self._write_lock = threading.Lock()

    def __repr__(self):
        return f"DuckDBWorker({self.name!r}, {self.path!r})"

    @contextmanager
    def _cursor(self, serialize=False):
        with self._write_lock if serialize else nullcontext():
            try:
                cursor = self._database.cursor()
            except duckdb.Error as exc:
                raise WorkerUnavailableError(
                    f"worker {self.name}: DuckDB database {self.path} is not open: {exc}"
                ) from exc
            try:
                yield cursor
            except duckdb.Error as exc:
                raise WorkerQueryError(f"worker {self.name}: {exc}") from exc
            finally:
                cursor.close()

    def _schema(self, cursor, table):
        return cursor.sql(f"SELECT * FROM {quote(table)} LIMIT 0").to_arrow_table().schema

    def ensure_table(self, table, columns):
        from qserv.schema.types import duckdb_type

        sql = create_table_sql(table, columns, duckdb_type)
        with self._cursor(serialize=True) as cursor:
            if self._exists(cursor, table):
                for upgrade in check_same_columns(self.name, table, self._schema(cursor, table).names, columns):
                    cursor.execute(upgrade)
            else:
                cursor.execute(sql)

    def load(self, table, rows):
        view = "_qserv_rows"
        with self._cursor() as cursor:
            rows = conform(self.name, table, rows, self._schema(cursor, check_table(table)))
            cursor.register(view, rows)
            try:
                cursor.execute(f"INSERT INTO {quote(table)} SELECT * FROM {quote(view)}")
            finally:
                cursor.unregister(view)

    def delete_where(self, table, condition_sql):
        with self._cursor(serialize=True) as cursor:
            cursor.execute(f"DELETE FROM {quote(check_table(table))} WHERE {condition_sql}")
            return cursor.fetchall()[0][0]

    def keyed(self, sql, keys):
        with self._cursor(serialize=True) as cursor:
            cursor.register("_qserv_keys", pa.table({"k": keys}))
            try:
                return cursor.execute(sql).to_arrow_reader().read_all()
            finally:
                cursor.unregister("_qserv_keys")

    def query(self, sql, cancellation=None):
        with self._cursor() as cursor:
            statements = cursor.extract_statements(sql)  # parsed once, run as parsed
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                raise WorkerQueryError(f"worker {self.name}: a query must be one SELECT statement, got "
                                       f"{', '.join(s.type.name for s in statements) or 'none'}")
            with cancellation.interruptible(cursor.interrupt) if cancellation else nullcontext():
                relation = cursor.sql(statements[0])
                if relation is None:
                    raise WorkerQueryError(f"worker {self.name}: statement returns no rows: {sql}")
                return relation.to_arrow_table()

    def execute(self, sql):
        with self._cursor(serialize=True) as cursor:
            cursor.execute(sql)

    def _exists(self, cursor, table):
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ?",
            [check_table(table)],
        )
        return cursor.fetchall()[0][0] > 0

    def table_exists(self, table):
        with self._cursor() as cursor:
            return self._exists(cursor, table)

    def drop_table(self, table):
        with self._cursor(serialize=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(check_table(table))}")

    def close(self):
        self._database.close()
