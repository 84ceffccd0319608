"""Chunk placement over workers with a replication factor, recorded in the central state."""

from collections import Counter

import numpy as np
from sqlalchemy import func, select

from qserv.errors import UserError
from qserv.meta.catalog import active_workers
from qserv.meta.models import Replica


def replicas_of(session, database, chunks):
    """{chunk: [worker ids]} for the given chunks, placing new chunks on the least-loaded workers."""
    chunks = [int(c) for c in np.unique(np.asarray(chunks, dtype=np.int64))]
    placed = {}
    for start in range(0, len(chunks), 500):
        batch = chunks[start:start + 500]
        for chunk, worker_id in session.execute(
            select(Replica.chunk, Replica.worker_id).where(
                Replica.database_id == database.id, Replica.chunk.in_(batch))
        ):
            placed.setdefault(chunk, []).append(worker_id)
    missing = [chunk for chunk in chunks if chunk not in placed]
    if missing:
        placed.update(_place_new(session, database, missing))
    return placed


def _place_new(session, database, chunks):
    workers = [worker.id for worker in active_workers(session)]
    if len(workers) < database.replication:
        raise UserError(
            f"database {database.name!r} needs {database.replication} replicas per chunk but only "
            f"{len(workers)} worker(s) are active"
        )
    load = Counter({worker: 0 for worker in workers})
    load.update(dict(session.execute(
        select(Replica.worker_id, func.count()).where(Replica.database_id == database.id)
        .group_by(Replica.worker_id)
    ).all()))
    placed = {}
    for chunk in chunks:
        chosen = sorted(workers, key=lambda w: (load[w], w))[:database.replication]
        for worker in chosen:
            load[worker] += 1
            session.add(Replica(database_id=database.id, chunk=chunk, worker_id=worker))
        placed[chunk] = chosen
    session.flush()
    return placed


def rows_per_worker(chunks_of_rows, placed):
    """{worker id: boolean mask over rows} for rows with the given chunks."""
    masks = {}
    unique, inverse = np.unique(chunks_of_rows, return_inverse=True)
    for position, chunk in enumerate(unique.tolist()):
        for worker in placed[chunk]:
            mask = masks.setdefault(worker, np.zeros(len(unique), dtype=bool))
            mask[position] = True
    return {worker: mask[inverse] for worker, mask in masks.items()}
