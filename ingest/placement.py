"""Chunk placement over workers with a replication factor, recorded in the central state.

A new chunk's workers follow from the chunk id and the active workers alone (a stable hash picks
the first, the next ones in id order follow), so concurrent writers placing the same new chunk
agree; the rows are inserted with "on conflict do nothing" and read back.
"""

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from qserv.errors import UserError
from qserv.storage import stable_hash
from qserv.meta.bulk import bulk_insert_values
from qserv.meta.catalog import active_workers
from qserv.meta.models import Replica

NO_WORKER = -1
# Reading back newly placed chunks: an IN list per this many chunks, or one range scan beyond.
IN_LIST = 500
READ_BY_RANGE = 20_000


class ChunkPlacement:
    """The workers of the chunks of one database, as known to one contribution: ``chunks``
    (sorted) and ``workers`` (one row per chunk, one column per replica, -1 padded)."""

    def __init__(self, session, database):
        self.database_id = database.id
        self.replication = database.replication
        self.database_name = database.name
        self.chunks = np.empty(0, np.int64)
        self.workers = np.empty((0, self.replication), np.int64)
        self._read(session)

    def _read(self, session, only=None):
        """Merge the recorded replicas (of the sorted chunks ``only`` when given) into the arrays."""
        query = select(Replica.chunk, Replica.worker_id).where(Replica.database_id == self.database_id)
        if only is None:
            queries = [query]
        elif len(only) > READ_BY_RANGE:
            queries = [query.where(Replica.chunk.between(int(only[0]), int(only[-1])))]
        else:
            queries = [query.where(Replica.chunk.in_(only[start:start + IN_LIST].tolist()))
                       for start in range(0, len(only), IN_LIST)]
        fetched = [session.connection().execute(q).cursor.fetchall() for q in queries]
        rows = np.array([row for part in fetched for row in part], dtype=np.int64).reshape(-1, 2)
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
        if only is not None:
            rows = rows[np.isin(rows[:, 0], only)]
        chunks, starts, counts = np.unique(rows[:, 0], return_index=True, return_counts=True)
        width = max(self.replication, int(counts.max()) if len(counts) else 0)
        workers = np.full((len(chunks), width), NO_WORKER, np.int64)
        for slot in range(width):
            has = counts > slot
            workers[has, slot] = rows[starts[has] + slot, 1]
        keep = ~np.isin(self.chunks, chunks)
        merged_chunks = np.concatenate([self.chunks[keep], chunks])
        old = np.full((keep.sum(), width), NO_WORKER, np.int64)
        old[:, :self.workers.shape[1]] = self.workers[keep][:, :width]
        order = np.argsort(merged_chunks, kind="stable")
        self.chunks = merged_chunks[order]
        self.workers = np.concatenate([old, workers])[order]

    def place(self, session, unique_chunks):
        """Workers of each of the sorted, distinct ``unique_chunks`` (placing new ones), as a
        (chunks x replicas) array of worker ids, -1 padded."""
        found = self._positions(unique_chunks) >= 0
        if not found.all():
            missing = unique_chunks[~found]
            self._place_new(session, missing)
            self._read(session, missing)
        return self.workers[self._positions(unique_chunks)]

    def _positions(self, chunks):
        index = np.searchsorted(self.chunks, chunks)
        index = np.minimum(index, max(len(self.chunks) - 1, 0))
        hit = (len(self.chunks) > 0) & (self.chunks[index] == chunks) if len(self.chunks) else np.zeros(len(chunks), bool)
        return np.where(hit, index, -1)

    def _place_new(self, session, chunks):
        workers = [worker.id for worker in active_workers(session)]
        if len(workers) < self.replication:
            raise UserError(
                f"database {self.database_name!r} needs {self.replication} replicas per chunk but only "
                f"{len(workers)} worker(s) are active"
            )
        first = stable_hash(pa.array(chunks, pa.int64())) % len(workers)
        for k in range(self.replication):  # one insert per replica slot and worker
            slot = (first + k) % len(workers)
            for position in np.unique(slot).tolist():
                bulk_insert_values(session, "replicas", {"database_id": self.database_id,
                                                         "worker_id": workers[position]},
                                   "chunk", chunks[slot == position], ignore_conflicts=True)


def rows_per_worker(chunk_positions, workers_of_chunks):
    """{worker id: boolean mask over rows}, given each row's position in the distinct chunks
    and the (chunks x replicas) worker ids of ``ChunkPlacement.place``."""
    masks = {}
    for worker in np.unique(workers_of_chunks).tolist():
        if worker == NO_WORKER:
            continue
        holds = (workers_of_chunks == worker).any(axis=1)
        masks[worker] = holds[chunk_positions]
    return masks
