"""The chunk map: which chunks of each table hold committed rows (and how many), and which workers
hold each chunk of a database, as sorted numpy arrays read from the central state once per
catalog version (not once per query), so that choosing and placing chunks is array work whose
cost does not grow with the number of chunks a query does not read.

Row counters change only when a transaction commits, and a chunk's workers are chosen when the
chunk is first placed (before any of its rows can be committed); every later change of replicas
(a chunk moved, a replica added or dropped) raises its database's ``placement_version``. So the
version is the committed transactions' count and largest id, the tables' and the sum of placement
versions (``CHUNK_MAP_VERSION``; the catalog snapshot, ``qserv.meta.snapshot``, reads it with
every query and the map only when it changed). Whoever changes counters or replicas otherwise
must also change what this version reads.
"""

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select

from qserv.meta.models import Chunk, Database, Move, Replica, Table, Transaction

_EMPTY = np.zeros(0, dtype=np.int64)
MEMO_MIN_CHUNKS = 2000  # smaller requests are computed each time (they are cheap)
MEMO_ENTRIES = 16

CHUNK_MAP_VERSION = (
    select(func.count(Transaction.id)).where(Transaction.state == "committed").scalar_subquery(),
    select(func.max(Transaction.id)).where(Transaction.state == "committed").scalar_subquery(),
    select(func.count(Table.id)).scalar_subquery(),
    select(func.max(Table.id)).scalar_subquery(),
    select(func.sum(Database.placement_version)).scalar_subquery(),
)


@dataclass(frozen=True)
class ChunkCounts:
    """Committed rows of one or more tables by chunk: ``chunks`` sorted and unique, ``rows`` and
    ``overlap_rows`` aligned with them."""

    chunks: np.ndarray
    rows: np.ndarray
    overlap_rows: np.ndarray

    def __len__(self):
        return len(self.chunks)

    def restricted(self, allowed):
        """Only the chunks also in ``allowed`` (sorted unique ids; None: all of them)."""
        if allowed is None:
            return self
        allowed = np.unique(np.asarray(allowed, dtype=np.int64))
        if len(self.chunks) == 0 or len(allowed) == 0:
            return ChunkCounts(_EMPTY, _EMPTY, _EMPTY)
        # a few allowed chunks looked up in the many populated ones: O(k log n), not O(n)
        where = np.minimum(np.searchsorted(self.chunks, allowed), len(self.chunks) - 1)
        where = where[self.chunks[where] == allowed]
        return ChunkCounts(self.chunks[where], self.rows[where], self.overlap_rows[where])

    @staticmethod
    def summed(parts):
        """The counts of several tables added chunk by chunk."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return ChunkCounts(_EMPTY, _EMPTY, _EMPTY)
        chunks, where = np.unique(np.concatenate([p.chunks for p in parts]), return_inverse=True)
        rows = np.bincount(where, np.concatenate([p.rows for p in parts]), len(chunks)).astype(np.int64)
        overlap = np.bincount(where, np.concatenate([p.overlap_rows for p in parts]), len(chunks)).astype(np.int64)
        return ChunkCounts(chunks, rows, overlap)


@dataclass(frozen=True)
class Placement:
    """The workers of every placed chunk of one database: ``holders[i]`` are the worker ids of
    ``chunks[i]`` (sorted ids) in id order, padded with -1 to the largest replication."""

    chunks: np.ndarray
    holders: np.ndarray  # (len(chunks), replication) int64
    # workers still storing a chunk they no longer hold (a moved or dropped replica's old copy,
    # deleted once the queries that may read it are over): read with a chunk list, never whole
    leftovers: frozenset = frozenset()
    # Answers for large chunk arrays of the (cached) chunk map, e.g. every chunk of a full scan:
    # (method, id(chunks), usable) -> (chunks, answer); the array is kept so its id stays its own.
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def _remembered(self, method, chunks, usable, compute):
        if len(chunks) < MEMO_MIN_CHUNKS:
            return compute()
        key = (method, id(chunks), usable)
        found = self._memo.get(key)
        if found is None or found[0] is not chunks:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            found = self._memo[key] = (chunks, compute())
        return found[1]

    def holders_of(self, chunks):
        """(holders rows of ``chunks``, whether each is placed at all)."""
        chunks = np.asarray(chunks, dtype=np.int64)
        if len(self.chunks) == 0:
            return np.full((len(chunks), 1), -1, dtype=np.int64), np.zeros(len(chunks), dtype=bool)
        index = np.minimum(np.searchsorted(self.chunks, chunks), len(self.chunks) - 1)
        placed = self.chunks[index] == chunks
        return np.where(placed[:, None], self.holders[index], -1), placed

    def assign(self, chunks, usable):
        """({worker id: [chunk ids]}, [chunks without a usable holder]): each chunk of
        ``chunks`` (sorted ids) given to one of its holders among ``usable`` (worker ids), spread
        evenly: the i-th chunk of the list goes to its (i mod n)-th of n usable holders. The
        caller must not change the lists it gets."""
        usable = frozenset(usable)
        return self._remembered("assign", chunks, usable, lambda: self._assign(chunks, usable))

    def _assign(self, chunks, usable):
        chunks = np.asarray(chunks, dtype=np.int64)
        holders, _ = self.holders_of(chunks)
        ok = np.isin(holders, np.fromiter(usable, dtype=np.int64, count=len(usable)))
        count = ok.sum(axis=1)
        missing = chunks[count == 0].tolist()
        pick = np.arange(len(chunks)) % np.maximum(count, 1)
        rank = np.cumsum(ok, axis=1) - 1
        column = np.argmax(ok & (rank == pick[:, None]), axis=1)
        chosen = np.where(count > 0, holders[np.arange(len(chunks)), column], -1)
        return {int(w): chunks[chosen == w].tolist() for w in np.unique(chosen[chosen >= 0])}, missing

    def held_counts(self, chunks):
        """{worker id: how many of ``chunks`` it holds}."""
        def count():
            holders, _ = self.holders_of(chunks)
            workers, counts = np.unique(holders[holders >= 0], return_counts=True)
            return dict(zip(workers.tolist(), counts.tolist()))
        return self._remembered("held", chunks, None, count)


@dataclass(frozen=True)
class ChunkMap:
    counts: dict  # (database, table) -> ChunkCounts
    placements: dict  # database -> Placement

    def table_counts(self, tables):
        """ChunkCounts of the TableInfos ``tables`` summed (empty for a table without rows)."""
        return ChunkCounts.summed(self.counts.get((info.database, info.name), ChunkCounts(_EMPTY, _EMPTY, _EMPTY))
                                  for info in tables)

    def placement(self, database):
        return self.placements.get(database, Placement(_EMPTY, np.full((0, 1), -1, dtype=np.int64)))


def _arrays(rows, width):
    if not rows:
        return [_EMPTY] * width
    return [np.asarray(column, dtype=np.int64) for column in zip(*rows)]


def read_chunk_map(session):
    """The ChunkMap of the central state now (two bulk reads)."""
    counts = {}
    query = (select(Database.name, Table.name, Chunk.chunk, Chunk.rows, Chunk.overlap_rows)
             .join(Table, Chunk.table_id == Table.id).join(Database, Table.database_id == Database.id)
             .order_by(Database.name, Table.name, Chunk.chunk))
    grouped = {}
    for database, table, chunk, rows, overlap in session.execute(query):
        grouped.setdefault((database, table), []).append((chunk, rows, overlap))
    for key, rows in grouped.items():
        counts[key] = ChunkCounts(*_arrays(rows, 3))
    placements = {}
    grouped = {}
    query = (select(Database.name, Replica.chunk, Replica.worker_id).join(Database)
             .order_by(Database.name, Replica.chunk, Replica.worker_id))
    for database, chunk, worker_id in session.execute(query):
        grouped.setdefault(database, []).append((chunk, worker_id))
    leftovers = {}
    for database, worker_id in session.execute(
            select(Database.name, Move.source_worker_id).join(Database, Move.database_id == Database.id)
            .where(Move.state == "switched", Move.kind != "add")):
        leftovers.setdefault(database, set()).add(worker_id)
    for database, rows in grouped.items():
        chunk_of, workers = _arrays(rows, 2)  # sorted by chunk, then worker
        chunks, starts, per_chunk = np.unique(chunk_of, return_index=True, return_counts=True)
        slot = np.arange(len(chunk_of)) - np.repeat(starts, per_chunk)
        holders = np.full((len(chunks), int(per_chunk.max())), -1, dtype=np.int64)
        holders[np.repeat(np.arange(len(chunks)), per_chunk), slot] = workers
        placements[database] = Placement(chunks, holders, frozenset(leftovers.get(database, ())))
    return ChunkMap(counts, placements)
