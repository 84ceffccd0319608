"""Loading one contribution: read batches, place rows, write them to their workers.

The pipeline keeps the two cores busy: while the rows of one batch are taken and appended on
their workers (in a thread pool; pyarrow and the worker engines release the GIL), the next batch
is read and partitioned. Each worker gets exactly its rows in one ``take`` from the source batch.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qserv.errors import InputError
from qserv.faults import crash_point
from qserv.ingest import partitioner
from qserv.ingest.batches import source_batches
from qserv.ingest.director_links import DirectorLinks
from qserv.ingest.placement import ChunkPlacement, rows_per_worker
from sqlalchemy import select

from qserv.meta.catalog import active_workers, table_columns
from qserv.meta.models import Contribution, Table
from qserv.sphere.chunking import ChunkGrid
from qserv.storage import physical_table_name

@dataclass
class LoadPlan:
    """What a contribution needs, detached from the session it was read in."""

    database: object
    table: Table
    director: Table | None
    director2: Table | None  # of a match table
    columns: list
    grid: ChunkGrid
    workers: list
    hidden: set
    transaction_id: int
    contribution_id: int
    key_label: str
    # of a director: (name, director_position, recorded distance) of its children with their own position
    linked_children: list

    @classmethod
    def of(cls, session, table, transaction_id, contribution_id, hidden):
        database = table.database
        contribution = session.get(Contribution, contribution_id)
        return cls(
            database=database, table=table, director=table.director, director2=table.director2,
            columns=table_columns(table),
            grid=ChunkGrid(database.chunk_order, database.subchunk_order, database.overlap_arcsec),
            workers=list(active_workers(session)), hidden=hidden,
            transaction_id=transaction_id, contribution_id=contribution_id,
            key_label=contribution.source or contribution.key,
            linked_children=[(child.name, child.director_position, child.director_distance_arcsec) for child in session.scalars(
                select(Table).where(Table.director_table_id == table.id, Table.ra_column.is_not(None)))],
        )


class ContributionLoader:
    def __init__(self, plan, pool, index, store, settings):
        self.plan, self.pool, self.index, self.store = plan, pool, index, store
        self.batch_rows = settings["ingest_batch_rows"]
        self.load_threads = settings["ingest_load_threads"]
        self.physical_name = physical_table_name(plan.database.name, plan.table.name)
        self.workers = {worker.id: worker for worker in plan.workers}
        self.placement = None
        self.ensured = set()
        self.links = DirectorLinks(plan, index, store)

    def run(self, source, format=None, null=None, progress=None):
        """Load every batch; return {chunk: [rows, overlap rows]}."""
        if self.plan.table.kind == "child" and self.plan.table.ra_column:  # rows of an earlier attempt
            self.index.forget_unmatched(self.plan.database.name, self.plan.table.name,
                                        f"contrib = {int(self.plan.contribution_id)}")
        bound = chunk_bound(self.plan.table, self.plan.grid)
        counts = ChunkCounts(bound)
        with ThreadPoolExecutor(max_workers=self.load_threads) as executor:
            in_flight = []
            for batch, origin in source_batches(source, self.plan.columns, self.batch_rows, format=format,
                                                null=null, name=self.plan.key_label):
                placement = self.place(batch, origin)
                jobs = self.submit(executor, batch, placement)
                self.wait(in_flight)
                in_flight = jobs
                counts.add(placement)
                crash_point("contribution-partly-loaded")
                if progress is not None:
                    progress(len(batch))
            self.wait(in_flight)
        self.links.record()
        return counts.totals()

    @staticmethod
    def wait(jobs):
        for job in jobs:
            job.result()

    def submit(self, executor, batch, placement):
        """Start writing a placed batch: director index rows and each worker's rows."""
        plan = self.plan
        jobs = []
        if plan.table.kind == "director":
            own = ~placement.overlap
            ra, dec = (values[placement.rows[own]] for values in
                       partitioner.positions(batch, plan.table.ra_column, plan.table.dec_column, None))
            jobs.append(executor.submit(
                self.index.add, plan.database.name, plan.table.name,
                batch.column(plan.table.id_column).take(placement.rows[own]),
                placement.chunks[own], placement.subchunks[own], plan.transaction_id, plan.contribution_id,
                ra, dec))
        for worker_id, mask in self.targets(placement.chunks).items():
            jobs.append(executor.submit(self.write, worker_id, batch, placement, mask))
        return jobs

    def write(self, worker_id, batch, placement, mask):
        """Append a worker's rows of ``batch``, ordered by chunk: stored row groups then cover few
        chunks each, so a query reading some chunks skips the others' row groups (min/max)."""
        subset = np.arange(len(placement.chunks)) if mask is None else np.flatnonzero(mask)
        if len(subset) == 0:
            return
        subset = subset[np.argsort(placement.chunks[subset], kind="stable")]
        rows = partitioner.with_system_columns(batch, placement, self.plan.transaction_id,
                                               self.plan.contribution_id, subset)
        worker = self.pool.get(self.workers[worker_id])
        if worker_id not in self.ensured:
            worker.ensure_table(self.physical_name, self.plan.columns)
            self.ensured.add(worker_id)
        worker.load(self.physical_name, rows)

    def targets(self, chunks):
        """{worker id: row mask (None = all rows)}."""
        if self.plan.table.kind == "replicated":
            return {worker_id: None for worker_id in self.workers}
        unique, positions = distinct_with_positions(chunks, chunk_bound(self.plan.table, self.plan.grid))
        with self.store.session() as session:
            if self.placement is None:
                self.placement = ChunkPlacement(session, self.plan.database)
            placed = self.placement.place(session, unique)
        return rows_per_worker(positions, placed)

    def place(self, batch, origin):
        table, grid = self.plan.table, self.plan.grid
        if table.kind == "director":
            placement = partitioner.spatial(batch, table.ra_column, table.dec_column, grid, origin)
            if self.plan.linked_children:
                own = placement.rows[~placement.overlap]
                ra, dec = partitioner.positions(batch, table.ra_column, table.dec_column, origin)
                self.links.director_batch(batch.column(table.id_column).take(own), placement.chunks[~placement.overlap],
                                          ra[own], dec[own], origin, own)
            return placement
        if table.kind == "child" and table.ra_column:
            placement = partitioner.spatial(batch, table.ra_column, table.dec_column, grid, origin, with_overlap=False)
            self.links.child_batch(batch, placement.chunks, origin)
            return placement
        if table.kind == "child":
            return self.place_by_director(batch, origin)
        if table.kind == "match":
            return self.links.match_batch(batch, origin)
        if table.kind == "time":
            return partitioner.time_buckets(batch, table.partition_column, table.bucket_size, origin)
        if table.kind == "hash":
            return partitioner.hash_buckets(batch, table.partition_column, table.bucket_count, origin)
        return partitioner.Placement.one_copy_each(np.full(len(batch), partitioner.NO_CHUNK, np.int64))

    def place_by_director(self, batch, origin):
        plan = self.plan
        keys = batch.column(plan.table.director_key)
        director = plan.director
        chunks, subchunks = self.index.lookup(plan.database.name, director.name, keys, plan.hidden)
        unknown = np.flatnonzero(chunks < 0)
        if len(unknown):
            shown = ", ".join(f"{keys[int(i)].as_py()!r} (row {origin.row(i)})" for i in unknown[:5])
            raise InputError(
                origin.source, f"{len(unknown)} row(s) of {plan.table.name} reference "
                f"{director.name}.{director.id_column} values that do not exist: {shown}",
                column=plan.table.director_key,
            )
        return partitioner.Placement.one_copy_each(chunks, subchunks)


# Chunk ids below this bound are counted with dense arrays instead of sorting.
DENSE_CHUNK_LIMIT = 1 << 22


def chunk_bound(table, grid):
    """An exclusive upper bound of the table's chunk ids, when there is a small one."""
    if table.kind in ("director", "child", "match"):
        return grid.chunk_count
    if table.kind == "hash":
        return table.bucket_count
    return None


def distinct_with_positions(values, bound):
    """(sorted distinct values, index of each value among them), by counting when the values
    lie in [0, bound) for a small bound, else by sorting."""
    if bound is not None and bound <= DENSE_CHUNK_LIMIT:
        present = np.zeros(bound, dtype=bool)
        present[values] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[values]
    return np.unique(values, return_inverse=True)


class ChunkCounts:
    """Stored copies per chunk (own rows and overlap copies apart), accumulated over batches:
    in dense arrays when chunk ids are small, else as sorted keys."""

    def __init__(self, bound):
        self.dense = bound is not None and bound <= DENSE_CHUNK_LIMIT
        if self.dense:
            self._own = np.zeros(bound, np.int64)
            self._overlap = np.zeros(bound, np.int64)
        self._keys, self._counts = [], []

    def add(self, placement):
        if self.dense:
            self._own += np.bincount(placement.chunks[~placement.overlap], minlength=len(self._own))
            self._overlap += np.bincount(placement.chunks[placement.overlap], minlength=len(self._own))
            return
        keys, counts = np.unique(placement.chunks * 2 + placement.overlap, return_counts=True)
        self._keys.append(keys)
        self._counts.append(counts)

    def totals(self):
        """(chunks, rows, overlap rows) arrays, one entry per chunk touched."""
        if self.dense:
            chunks = np.flatnonzero(self._own + self._overlap)
            return chunks, self._own[chunks], self._overlap[chunks]
        if not self._keys:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        keys, positions = np.unique(np.concatenate(self._keys), return_inverse=True)
        counts = np.bincount(positions, weights=np.concatenate(self._counts)).astype(np.int64)
        chunks, overlap = keys // 2, keys % 2 == 1
        unique_chunks, where = np.unique(chunks, return_inverse=True)
        rows = np.bincount(where, weights=np.where(overlap, 0, counts), minlength=len(unique_chunks))
        overlap_rows = np.bincount(where, weights=np.where(overlap, counts, 0), minlength=len(unique_chunks))
        return unique_chunks, rows.astype(np.int64), overlap_rows.astype(np.int64)
