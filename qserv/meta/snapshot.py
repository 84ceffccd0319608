"""What a query needs from the central state, read once at its start."""

from dataclasses import dataclass
import threading

from sqlalchemy import String, cast, func, select

from qserv.errors import MetaStoreError
from qserv.ingest.transactions import PENDING_STATES
from qserv.meta.catalog import active_workers, table_columns
from qserv.meta.catalog_changes import CATALOG_CHANGE_VERSION
from qserv.meta.chunk_map import CHUNK_MAP_VERSION, read_chunk_map
from qserv.meta.models import Database, Table, Transaction, Worker
from qserv.query.tables import Partitioning, TableInfo
from qserv.storage import HiddenTransactions


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
    hidden_transactions: frozenset  # qserv.storage.HiddenTransactions: rows queries must not see
    workers: dict  # worker id -> WorkerRef (active workers)
    chunk_map: object  # qserv.meta.chunk_map.ChunkMap: committed rows and replicas by chunk
    unpublished: frozenset = frozenset()  # names of databases not yet published (qserv publish)
    catalog_version: tuple = ()  # changes with the tables, workers and publication (plan cache key)
    # read as of a snapshot (qserv.meta.snapshots: its name, or True for a logged visibility): the
    # chunk map's row counters are of now, not of it
    pinned: object = False

    def published_only(self):
        """The snapshot without the tables of unpublished databases (what TAP users see)."""
        if not self.unpublished:
            return self
        tables = {key: info for key, info in self.tables.items() if info.database not in self.unpublished}
        return CatalogSnapshot(tables, self.hidden_transactions, self.workers, self.chunk_map, frozenset(),
                               self.catalog_version)


def table_info(table):
    database = table.database
    return TableInfo(
        database=database.name, name=table.name, kind=table.kind, columns=tuple(table_columns(table)),
        partitioning=Partitioning(database.chunk_order, database.subchunk_order, database.overlap_arcsec),
        id_column=table.id_column, ra_column=table.ra_column, dec_column=table.dec_column,
        director=f"{table.director.database.name}.{table.director.name}" if table.director else None,
        director_key=table.director_key, director_position=table.director_position,
        director_distance_arcsec=table.director_distance_arcsec,
        director2=f"{table.director2.database.name}.{table.director2.name}" if table.director2 else None,
        director2_key=table.director2_key, partition_column=table.partition_column,
        bucket_days=table.bucket_size, bucket_count=table.bucket_count, row_deletes=bool(table.row_deletes))


def _read_catalog(session):
    """(tables, workers, unpublished database names) of the central state now."""
    tables = {}
    for table in session.scalars(select(Table).join(Database).order_by(Database.name, Table.name)):
        info = table_info(table)
        tables[info.key] = info
    workers = {w.id: WorkerRef(w.id, w.name, w.backend, w.location) for w in active_workers(session)}
    unpublished = frozenset(session.scalars(select(Database.name).where(Database.published.is_not(True))))
    return tables, workers, unpublished


# Rows of databases, tables and workers are added, and their publication and state change: these
# counts, sums and largest ids say whether the catalog changed. Any other change (a drop, a table's
# row deletion switched on) is recorded with qserv.meta.catalog_changes.record_change, whose newest
# id is part of the version.
_CATALOG_VERSION = (
    *(select(aggregate(column)).scalar_subquery()
      for column in (Database.id, Table.id, Worker.id) for aggregate in (func.count, func.max)),
    # which workers are active: their count, and sums of ids and squared ids (a worker disabled
    # and another enabled changes them)
    *(select(aggregate).where(Worker.state == "active").scalar_subquery()
      for aggregate in (func.count(Worker.id), func.sum(Worker.id), func.sum(Worker.id * Worker.id))),
    select(func.count(Database.id)).where(Database.published.is_(True)).scalar_subquery(),
    # the children's measured distances from their directors only grow, or become NULL (not known)
    select(func.sum(func.coalesce(Table.director_distance_arcsec, -1.0))).scalar_subquery(),
    CATALOG_CHANGE_VERSION,  # drops, row deletion switched on (qserv.meta.catalog_changes)
)
# What a reader must hide (pending transactions, the newest id), read in the same statement as
# the versions, so that it matches the catalog and chunk map of those versions.
_VISIBILITY = (
    select(func.aggregate_strings(cast(Transaction.id, String), ","))
    .where(Transaction.state.in_(PENDING_STATES)).scalar_subquery(),
    select(func.max(Transaction.id)).scalar_subquery(),
)
_FINGERPRINT = select(*_CATALOG_VERSION, *CHUNK_MAP_VERSION, *_VISIBILITY)
_CATALOG_PART = len(_CATALOG_VERSION)
_VERSIONS = _CATALOG_PART + len(CHUNK_MAP_VERSION)
_READ_ATTEMPTS = 20


def _hidden(pending, newest):
    return HiddenTransactions((int(t) for t in pending.split(",")) if pending else (), newest or 0)


class SnapshotCache:
    """``read(session)``: the CatalogSnapshot of the central state now. One statement per query
    reads the versions and what to hide; the tables and workers are read again only when the
    catalog's version changed, the chunk map only when a commit or a replica change changed it.
    Everything returned belongs to one state: a catalog or chunk map read in several statements is
    kept only if the versions did not move meanwhile (else it is read again)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._versions = None
        self._catalog = None  # (tables, workers, unpublished) of the versions' catalog part
        self._chunk_map = None  # the ChunkMap of the versions' chunk part

    def read(self, session):
        for _ in range(_READ_ATTEMPTS):
            row = tuple(session.execute(_FINGERPRINT).one())
            versions = row[:_VERSIONS]
            with self._lock:
                known, catalog, chunk_map = self._versions, self._catalog, self._chunk_map
            reread = False
            if known is None or known[:_CATALOG_PART] != versions[:_CATALOG_PART]:
                catalog, reread = _read_catalog(session), True
            if known is None or known[_CATALOG_PART:] != versions[_CATALOG_PART:]:
                chunk_map, reread = read_chunk_map(session), True
            if reread:
                if tuple(session.execute(select(*_CATALOG_VERSION, *CHUNK_MAP_VERSION)).one()) != versions:
                    continue  # changed while it was read: read again
                with self._lock:
                    self._versions, self._catalog, self._chunk_map = versions, catalog, chunk_map
            tables, workers, unpublished = catalog
            return CatalogSnapshot(dict(tables), _hidden(*row[_VERSIONS:]), dict(workers), chunk_map, unpublished,
                                   versions[:_CATALOG_PART])
        raise MetaStoreError(f"the catalog changed during each of {_READ_ATTEMPTS} attempts to read it")
