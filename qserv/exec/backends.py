"""Opening a worker of a backend: ``open_worker(name, backend, dsn_or_path)`` returns a
:class:`~qserv.exec.worker.Worker`; ``backend="duckdb"`` takes a database file path,
``backend="postgres"`` a libpq DSN or URL. A backend's module is imported on first use (a
DuckDB-only instance never loads psycopg2)."""

from qserv.errors import UserError

BACKENDS = ("duckdb", "postgres")


def open_worker(name, backend, dsn_or_path):
    """A worker of ``backend`` named ``name`` (used in every error message)."""
    if backend == "duckdb":
        from qserv.exec.duckdb_worker import DuckDBWorker

        return DuckDBWorker(name, dsn_or_path)
    if backend == "postgres":
        from qserv.exec.postgres_worker import PostgresWorker

        return PostgresWorker(name, dsn_or_path)
    raise UserError(f"unknown worker backend {backend!r} (expected one of {', '.join(BACKENDS)})")
