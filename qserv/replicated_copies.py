"""The copies of replicated tables (`qserv verify`): every active worker holds a whole copy of each
replicated table of a database. A copy's signature is its visible rows and the order-independent
checksum of ``qserv.exec.chunk_rows`` over all of them; the copy unlike the majority (in a tie,
unlike the committed row count) is bad, and a repair replaces its rows by a good copy's."""

from sqlalchemy import func, select

from qserv.errors import WorkerQueryError, WorkerUnavailableError
from qserv.exec.chunk_rows import HASH_MODULUS, sign_rows, stored_schema
from qserv.meta.catalog import table_columns
from qserv.meta.models import Chunk
from qserv.storage import physical_table_name, quote, visible_condition

# The one "chunk" under which ``Replication.verify`` judges a replicated table's copies.
WHOLE_TABLE = -1


def replicated_tables(session, database):
    """[(DB.TABLE, physical name, columns, committed rows)] of the database's replicated tables."""
    return [(f"{database.name}.{t.name}", physical_table_name(database.name, t.name), table_columns(t),
             int(session.scalar(select(func.coalesce(func.sum(Chunk.rows), 0)).where(Chunk.table_id == t.id))))
            for t in database.tables if t.kind == "replicated"]


def sign_copy(worker, table, columns, hidden):
    """((visible rows, checksum),) of the whole copy on ``worker``: ((0, 0),) without the table."""
    if not worker.table_exists(table):
        return ((0, 0),)
    rows = worker.query(f"SELECT * FROM {quote(table)} WHERE {visible_condition(hidden)}")
    signed = sign_rows(rows, stored_schema(columns)).values()
    return ((sum(n for n, _ in signed), sum(s for _, s in signed) % HASH_MODULUS),)


def sign_copies(pool, workers, table, columns, hidden):
    """{worker id: {WHOLE_TABLE: signature} or None when the worker does not answer}."""
    found = {}
    for worker in workers:
        try:
            found[worker.id] = {WHOLE_TABLE: sign_copy(pool.get(worker), table, columns, hidden)}
        except (WorkerUnavailableError, WorkerQueryError):
            pool.discard(worker.id)
            found[worker.id] = None
    return found


def rebuild_copy(source, target, table, columns):
    """Replace every row of ``table`` on ``target`` by the rows on ``source``."""
    rows = source.query(f"SELECT * FROM {quote(table)}")
    target.ensure_table(table, columns)
    target.delete_where(table, "TRUE")
    if rows.num_rows:
        target.load(table, rows)
