"""What a query needs from the central state, read once at its start."""

from dataclasses import dataclass
import threading

from sqlalchemy import func, select

from qserv.ingest.transactions import pending_transactions
from qserv.meta.catalog import active_workers, table_columns
from qserv.meta.models import Chunk, Database, Replica, Table, Worker
from qserv.query.tables import Partitioning, TableInfo


@dataclass(frozen=True)
class WorkerRef:
    """A detached copy of a worker row (what ``WorkerPool.get`` needs)."""

    id: int
    name: str
    backend: str
    location: str


@dataclass
class CatalogSnapshot:
    tables: dict  # "db.table" -> TableInfo
    hidden_transactions: frozenset  # ids whose rows queries must not see
    workers: dict  # worker id -> WorkerRef (active workers)
    unpublished: frozenset = frozenset()  # names of databases not yet published (qserv publish)

    def published_only(self):
        """The snapshot without the tables of unpublished databases (what TAP users see)."""
        if not self.unpublished:
            return self
        tables = {key: info for key, info in self.tables.items() if info.database not in self.unpublished}
        return CatalogSnapshot(tables, self.hidden_transactions, self.workers, frozenset())


def table_info(table):
    database = table.database
    return TableInfo(
        database=database.name, name=table.name, kind=table.kind, columns=tuple(table_columns(table)),
        partitioning=Partitioning(database.chunk_order, database.subchunk_order, database.overlap_arcsec),
        id_column=table.id_column, ra_column=table.ra_column, dec_column=table.dec_column,
        director=f"{table.director.database.name}.{table.director.name}" if table.director else None,
        director_key=table.director_key, partition_column=table.partition_column,
        bucket_days=table.bucket_size, bucket_count=table.bucket_count)


def read_snapshot(session):
    tables = {}
    for table in session.scalars(select(Table).join(Database).order_by(Database.name, Table.name)):
        info = table_info(table)
        tables[info.key] = info
    workers = {w.id: WorkerRef(w.id, w.name, w.backend, w.location) for w in active_workers(session)}
    unpublished = frozenset(session.scalars(select(Database.name).where(Database.published.is_not(True))))
    return CatalogSnapshot(tables, frozenset(pending_transactions(session)), workers, unpublished)


# Rows of databases, tables and workers are only ever added (nothing deletes them) and only their
# publication and state change, so these counts and largest ids say whether the catalog changed.
# Whoever adds an operation that alters or deletes such a row must extend this fingerprint (e.g.
# with a version column).
_FINGERPRINT = select(*(select(aggregate(column)).scalar_subquery()
                        for column in (Database.id, Table.id, Worker.id) for aggregate in (func.count, func.max)),
                      select(func.count(Worker.id)).where(Worker.state == "active").scalar_subquery(),
                      select(func.count(Database.id)).where(Database.published.is_(True)).scalar_subquery())


class SnapshotCache:
    """``read(session)``: the same as ``read_snapshot``, but the tables and workers are read again
    only when the catalog's fingerprint changed (one small query instead of one per table)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fingerprint = None
        self._catalog = None  # (tables, workers) of that fingerprint

    def read(self, session):
        fingerprint = tuple(session.execute(_FINGERPRINT).one())
        with self._lock:
            catalog = self._catalog if fingerprint == self._fingerprint else None
        if catalog is None:
            snapshot = read_snapshot(session)
            with self._lock:
                self._fingerprint = fingerprint
                self._catalog = (snapshot.tables, snapshot.workers, snapshot.unpublished)
            return snapshot
        tables, workers, unpublished = catalog
        return CatalogSnapshot(dict(tables), frozenset(pending_transactions(session)), dict(workers), unpublished)


# Up to this many chunks are looked up by id; more are filtered after reading them all.
CHUNKS_BY_ID = 5000


def _only(query, column, chunks):
    """``query`` restricted to ``chunks`` in SQL when they are few enough."""
    if chunks is None or len(chunks) > CHUNKS_BY_ID:
        return query
    return query.where(column.in_([int(c) for c in chunks]))


def chunk_rows(session, tables, chunks=None):
    """{chunk: [rows, overlap rows]} of the committed rows of the TableInfos ``tables``, summed;
    only ``chunks`` (and maybe others) when given."""
    found = {}
    for info in tables:
        query = (select(Chunk.chunk, Chunk.rows, Chunk.overlap_rows).join(Table, Chunk.table_id == Table.id)
                 .join(Database).where(Database.name == info.database, Table.name == info.name))
        for chunk, rows, overlap in session.execute(_only(query, Chunk.chunk, chunks)):
            counts = found.setdefault(chunk, [0, 0])
            counts[0] += rows
            counts[1] += overlap
    return found


def replicas(session, database_name, chunks):
    """{chunk: [worker ids]} of ``chunks`` of a database (all of them when ``chunks`` is None)."""
    query = select(Replica.chunk, Replica.worker_id).join(Database).where(Database.name == database_name)
    query = _only(query, Replica.chunk, chunks)
    found = {}
    for chunk, worker_id in session.execute(query.order_by(Replica.chunk, Replica.worker_id)):
        found.setdefault(chunk, []).append(worker_id)
    if chunks is not None:
        wanted = set(int(c) for c in chunks)
        found = {chunk: holders for chunk, holders in found.items() if chunk in wanted}
    return found
