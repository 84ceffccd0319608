"""Secondary indexes on user tables (`qserv index create|drop DB.TABLE COLUMN`): one index per
worker on the table that holds all of that worker's chunks of it, so every replica has it and
worker SQL filtering or joining on the column can use it. The index of a column has a fixed name
(:func:`index_name`), so what exists is read from the workers themselves and a new worker gets
the indexes of the worker its tables are copied from (:func:`copy_indexes`)."""

import hashlib

from qserv.errors import NotFoundError, WorkerQueryError, WorkerUnavailableError, ServiceError
from qserv.meta import workers as registry
from qserv.meta.catalog import get_table, split_table_name, table_columns
from qserv.storage import physical_table_name, quote

PREFIX = "qix_"
MAX_NAME = 63  # PostgreSQL's identifier limit
LIST_SQL = {"duckdb": "SELECT index_name AS name FROM duckdb_indexes() WHERE schema_name = current_schema()",
            "postgres": "SELECT indexname::TEXT AS name FROM pg_indexes WHERE schemaname = current_schema()"}


def index_name(table, column):
    """The index of ``column`` of physical table ``table`` (a digest keeps it short and unique)."""
    digest = hashlib.sha1(f"{table}\0{column}".encode()).hexdigest()[:10]
    return f"{PREFIX}{table}_{column}"[:MAX_NAME - len(digest) - 1] + "_" + digest


def worker_indexes(worker):
    """The names of the qserv indexes on a worker."""
    names = worker.query(LIST_SQL[worker.backend]).column("name").to_pylist()
    return {name for name in names if name.startswith(PREFIX)}


def _resolve(engine, qualified_name, column):
    """(physical table, the column's declared name, every listed worker)."""
    database_name, table_name = split_table_name(qualified_name)
    with engine.store.session() as session:
        table = get_table(session, database_name, table_name)
        names = [c.name for c in table_columns(table)]
        workers = registry.listed_workers(session)
    found = [n for n in names if n.lower() == column.lower()]
    if not found:
        raise NotFoundError(f"table {qualified_name} has no column {column!r} (columns: {', '.join(names)})")
    return physical_table_name(database_name, table_name), found[0], workers


def _each_worker(engine, workers, statement):
    """Run ``statement(worker)`` on every worker; a worker that fails is named in the error
    raised after the others were done (the statements are idempotent: run it again)."""
    failed = []
    for worker in workers:
        try:
            statement(engine.pool.get(worker))
        except (WorkerUnavailableError, WorkerQueryError) as exc:
            engine.pool.discard(worker.id)
            failed.append(f"{worker.name}: {exc}")
    if failed:
        raise ServiceError(f"the index change failed on {len(failed)} worker(s) (run it again once they "
                           f"answer): {'; '.join(failed)}")
    return [w.name for w in workers]


def create_index(engine, qualified_name, column):
    """Index ``column`` of a table on every worker; returns the worker names."""
    table, column, workers = _resolve(engine, qualified_name, column)
    sql = f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, column))} ON {quote(table)} ({quote(column)})"
    return _each_worker(engine, workers, lambda worker: worker.execute(sql))


def drop_index(engine, qualified_name, column):
    """Drop the index of ``column`` on every worker (an error if no worker has it)."""
    table, column, workers = _resolve(engine, qualified_name, column)
    name = index_name(table, column)
    if column not in indexed_columns(engine, qualified_name):
        raise NotFoundError(f"no index on {qualified_name}.{column} (qserv index create {qualified_name} {column})")
    return _each_worker(engine, workers, lambda worker: worker.execute(f"DROP INDEX IF EXISTS {quote(name)}"))


def indexed_columns(engine, qualified_name):
    """{column: [names of the workers whose table has its index]} of a table's indexes."""
    database_name, table_name = split_table_name(qualified_name)
    with engine.store.session() as session:
        table = get_table(session, database_name, table_name)
        names = [c.name for c in table_columns(table)]
        workers = registry.listed_workers(session)
    physical = physical_table_name(database_name, table_name)
    found = {}
    for worker in workers:
        present = worker_indexes(engine.pool.get(worker))
        for column in names:
            if index_name(physical, column) in present:
                found.setdefault(column, []).append(worker.name)
    return found


def copy_indexes(source, target, table, columns):
    """Create on ``target`` the indexes of ``table`` that ``source`` has."""
    present = worker_indexes(source)
    for column in columns:
        name = index_name(table, column.name)
        if name in present:
            target.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column.name)})")
