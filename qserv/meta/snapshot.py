"""What a query needs from the central state, read once at its start."""

from dataclasses import dataclass
import threading

from sqlalchemy import func, select

from qserv.ingest.transactions import pending_transactions
from qserv.meta.catalog import active_workers, table_columns
from qserv.meta.chunk_map import CHUNK_MAP_VERSION, read_chunk_map
from qserv.meta.models import Database, Table, Worker
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
    chunk_map: object  # qserv.meta.chunk_map.ChunkMap: committed rows and replicas by chunk
    unpublished: frozenset = frozenset()  # names of databases not yet published (qserv publish)

    def published_only(self):
        """The snapshot without the tables of unpublished databases (what TAP users see)."""
        if not self.unpublished:
            return self
        tables = {key: info for key, info in self.tables.items() if info.database not in self.unpublished}
        return CatalogSnapshot(tables, self.hidden_transactions, self.workers, self.chunk_map, frozenset())


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
    return CatalogSnapshot(tables, frozenset(pending_transactions(session)), workers, read_chunk_map(session),
                           unpublished)


# Rows of databases, tables and workers are only ever added (nothing deletes them) and only their
# publication and state change, so these counts, sums and largest ids say whether the catalog changed.
# Whoever adds an operation that alters or deletes such a row must extend this fingerprint (e.g.
# with a version column).
_FINGERPRINT = select(*(select(aggregate(column)).scalar_subquery()
                        for column in (Database.id, Table.id, Worker.id) for aggregate in (func.count, func.max)),
                      # which workers are active: their count, and sums of ids and squared ids (a
                      # worker disabled and another enabled changes them)
                      *(select(aggregate).where(Worker.state == "active").scalar_subquery()
                        for aggregate in (func.count(Worker.id), func.sum(Worker.id),
                                          func.sum(Worker.id * Worker.id))),
                      select(func.count(Database.id)).where(Database.published.is_(True)).scalar_subquery(),
                      *CHUNK_MAP_VERSION)
_CATALOG_PART = len(_FINGERPRINT.selected_columns) - len(CHUNK_MAP_VERSION)


class SnapshotCache:
    """``read(session)``: the same as ``read_snapshot``, but the tables and workers are read again
    only when the catalog's fingerprint changed, and the chunk map only when a commit changed it
    (one small query per query instead of one per table and per chunk)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fingerprint = None
        self._catalog = None  # (tables, workers, unpublished) of the fingerprint's catalog part
        self._chunk_map = None  # the ChunkMap of the fingerprint's chunk part

    def read(self, session):
        fingerprint = tuple(session.execute(_FINGERPRINT).one())
        with self._lock:
            known, catalog, chunk_map = self._fingerprint, self._catalog, self._chunk_map
        if known is None or known[:_CATALOG_PART] != fingerprint[:_CATALOG_PART]:
            snapshot = read_snapshot(session)
            catalog, chunk_map = (snapshot.tables, snapshot.workers, snapshot.unpublished), snapshot.chunk_map
        elif known[_CATALOG_PART:] != fingerprint[_CATALOG_PART:]:
            chunk_map = read_chunk_map(session)
        with self._lock:
            self._fingerprint, self._catalog, self._chunk_map = fingerprint, catalog, chunk_map
        tables, workers, unpublished = catalog
        return CatalogSnapshot(dict(tables), frozenset(pending_transactions(session)), dict(workers), chunk_map,
                               unpublished)
