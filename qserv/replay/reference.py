"""Expected answers of corpus queries from a reference database holding the same rows unsharded,
as tables ``"<database>"."<table>"`` (a schema per database): a DuckDB file, or a PostgreSQL DSN
(``postgresql://...`` or ``host=... dbname=...``).

Each query is translated by the instance (``Engine.reference_sql``: its DuckDB SQL over the
unsharded tables, with Qserv SQL semantics and ADQL geometry rewritten), and for PostgreSQL
transpiled by sqlglot. The worker functions (``qserv.sql.worker_functions``: scisql and ADQL
geometry) are created on the reference connection first; on PostgreSQL inside a transaction
that is rolled back, so the reference database is left as it was.
"""

from pathlib import Path

import duckdb
import psycopg2
import pyarrow as pa
import sqlglot

from qserv.errors import QservError, UserError
from qserv.replay.sources import with_expected
from qserv.sql.worker_functions import function_sql


def _is_dsn(reference):
    return reference.startswith(("postgresql://", "postgres://")) or "dbname=" in reference


class _DuckDBReference:
    def __init__(self, path):
        if not Path(path).exists():
            raise UserError(f"no reference database {path}")
        self.connection = duckdb.connect(str(path), read_only=True)
        for statement in function_sql("duckdb"):
            self.connection.execute(statement.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO"))

    def answer(self, sql):
        return self.connection.sql(sql).to_arrow_table()

    def close(self):
        self.connection.close()


class _PostgresReference:
    def __init__(self, dsn):
        self.connection = psycopg2.connect(dsn)
        with self.connection.cursor() as cursor:
            for statement in function_sql("postgres"):
                cursor.execute(statement)

    def answer(self, sql):
        with self.connection.cursor() as cursor:
            cursor.execute("SAVEPOINT reference_query")
            try:
                cursor.execute(sqlglot.transpile(sql, read="duckdb", write="postgres")[0])
                names = [column.name for column in cursor.description]
                rows = cursor.fetchall()
            except Exception:
                cursor.execute("ROLLBACK TO SAVEPOINT reference_query")
                raise
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def close(self):
        self.connection.rollback()
        self.connection.close()


def open_reference(reference):
    """The reference database of a DuckDB path or a PostgreSQL DSN."""
    return _PostgresReference(reference) if _is_dsn(reference) else _DuckDBReference(reference)


def fill_expected(entries, engine, reference):
    """Set the expected answer of each entry without one to the reference database's answer (an
    error there makes the entry an expected error)."""
    database = open_reference(reference)
    try:
        for entry in entries:
            if entry.expected is not None:
                continue
            try:
                sql = engine.reference_sql(entry.text, lang=entry.lang, db=entry.database)
                with_expected(entry, database.answer(sql))
            except (QservError, duckdb.Error, psycopg2.Error, sqlglot.errors.SqlglotError) as error:
                entry.status, entry.error = "error", f"{type(error).__name__}: {error}"
    finally:
        database.close()
    return entries
