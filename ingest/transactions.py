"""Super-transactions: begin -> contributions -> commit or abort, atomic across workers.

Every stored row (and director-index row) carries its transaction id. Readers hide the rows of
transactions that are not committed (``pending_transactions``), so the single central-state
update that marks a transaction committed is the moment all its rows on all workers appear.
An abort (or the recovery of a crashed one) deletes the rows; a crashed contribution is
cleaned up at the next start; a retried contribution (same key) never duplicates rows.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from qserv.errors import InputError, UserError
from qserv.exec.worker import physical_table_name
from qserv.faults import crash_point
from qserv.ingest import partitioner
from qserv.ingest.batches import source_batches
from qserv.ingest.placement import replicas_of, rows_per_worker
from qserv.meta.catalog import ConflictError, active_workers, get_table, get_transaction, table_columns
from qserv.meta.models import Chunk, Contribution, ContributionChunk, Table, Transaction, utc_now
from qserv.sphere.chunking import ChunkGrid

PENDING_STATES = ("open", "aborting")


@dataclass
class ContributionResult:
    id: int
    key: str
    rows: int
    overlap_rows: int
    reused: bool = False


def pending_transactions(session, except_id=None):
    """Ids of transactions whose rows must stay hidden."""
    ids = set(session.scalars(select(Transaction.id).where(Transaction.state.in_(PENDING_STATES))))
    ids.discard(except_id)
    return ids


def require_open(transaction):
    if transaction.state != "open":
        raise ConflictError(f"transaction {transaction.id} is {transaction.state}, not open")


class Transactions:
    """Ingest operations over an engine's central state, workers and director index."""

    def __init__(self, store, pool, index):
        self.store, self.pool, self.index = store, pool, index

    # -- begin / commit / abort -------------------------------------------------------------
    def begin(self, database_name, note=None):
        from qserv.meta.catalog import get_database

        with self.store.session() as session:
            database = get_database(session, database_name)
            transaction = Transaction(database_id=database.id, state="open", note=note)
            session.add(transaction)
            session.flush()
            return transaction.id

    def commit(self, transaction_id):
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            loading = session.scalars(select(Contribution.key).where(
                Contribution.transaction_id == transaction.id, Contribution.state == "loading")).all()
            if loading:
                raise ConflictError(f"transaction {transaction.id} has contributions still loading: "
                                    f"{', '.join(loading[:5])}")
            hidden = pending_transactions(session)
            for table in self._tables_touched(session, transaction.id):
                if table.kind == "director" and not table.non_unique:
                    self._refuse_duplicates(transaction.database.name, table, transaction.id, hidden)
        crash_point("commit-before-state")
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            self._add_chunk_counts(session, transaction.id)
            transaction.state = "committed"
            transaction.ended_at = utc_now()
        crash_point("commit-after-state")

    def abort(self, transaction_id):
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            if transaction.state not in ("open", "aborting"):
                raise ConflictError(f"transaction {transaction.id} is {transaction.state}; "
                                    f"only open transactions can be aborted")
            transaction.state = "aborting"
            database_name = transaction.database.name
            tables = list(transaction.database.tables)
            workers = active_workers(session)
        self._delete_rows(database_name, tables, workers, f"_qserv_txn = {int(transaction_id)}")
        crash_point("abort-mid")
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            transaction.state = "aborted"
            transaction.ended_at = utc_now()

    def recover(self):
        """After a crash: finish interrupted aborts, remove rows of interrupted contributions."""
        with self.store.session() as session:
            aborting = session.scalars(select(Transaction.id).where(Transaction.state == "aborting")).all()
            interrupted = session.scalars(select(Contribution).where(Contribution.state == "loading")).all()
            for contribution in interrupted:
                table = session.get(Table, contribution.table_id)
                self._delete_rows(table.database.name, [table], active_workers(session),
                                  f"_qserv_contrib = {int(contribution.id)}")
                contribution.state = "failed"
                contribution.error = "interrupted (process stopped while loading); rows removed"
        for transaction_id in aborting:
            self.abort(transaction_id)
        return {"aborted": list(aborting), "cleaned_contributions": [c.id for c in interrupted]}

    # -- contributions ----------------------------------------------------------------------
    def contribute(self, transaction_id, table_name, source, key=None, format=None, null=None,
                   progress=None):
        """Load a file (path) or a pyarrow.Table into ``table_name`` (bare name within the
        transaction's database) as part of an open transaction."""
        with self.store.session() as session:
            transaction = get_transaction(session, transaction_id)
            require_open(transaction)
            database = transaction.database
            table = get_table(session, database.name, table_name)
            key = key or (str(source) if not hasattr(source, "schema") else None)
            if key is None:
                raise UserError("a contribution from an in-memory table needs a key (for retries)")
            contribution = session.scalar(select(Contribution).where(
                Contribution.transaction_id == transaction.id, Contribution.table_id == table.id,
                Contribution.key == key))
            if contribution is not None and contribution.state == "loaded":
                return ContributionResult(contribution.id, key, contribution.rows,
                                          contribution.overlap_rows, reused=True)
            if contribution is None:
                contribution = Contribution(transaction_id=transaction.id, table_id=table.id, key=key,
                                            source=None if hasattr(source, "schema") else str(source))
                session.add(contribution)
                session.flush()
            else:
                self._delete_rows(database.name, [table], active_workers(session),
                                  f"_qserv_contrib = {contribution.id}")
                session.execute(ContributionChunk.__table__.delete().where(
                    ContributionChunk.contribution_id == contribution.id))
            contribution.state, contribution.error = "loading", None
            contribution_id = contribution.id
            plan = _LoadPlan.of(session, table, transaction.id, contribution_id)
        try:
            counts = self._load(plan, source, format, null, progress)
        except BaseException as exc:
            self._fail_contribution(plan, exc)
            raise
        crash_point("contribution-loaded")
        with self.store.session() as session:
            contribution = session.get(Contribution, contribution_id)
            contribution.state = "loaded"
            contribution.rows = int(sum(own for own, _ in counts.values()))
            contribution.overlap_rows = int(sum(overlap for _, overlap in counts.values()))
            for chunk, (own, overlap) in counts.items():
                session.add(ContributionChunk(contribution_id=contribution_id, chunk=int(chunk),
                                              rows=int(own), overlap_rows=int(overlap)))
            return ContributionResult(contribution_id, key, contribution.rows, contribution.overlap_rows)

    def _load(self, plan, source, format, null, progress):
        counts = defaultdict(lambda: [0, 0])
        for batch, origin in source_batches(source, plan.columns, format=format, null=null, name=plan.key_label):
            placement = self._place(plan, batch, origin)
            stored = partitioner.with_system_columns(batch, placement, plan.transaction_id, plan.contribution_id)
            if plan.table.kind == "director":
                own = ~placement.overlap
                self.index.add(plan.database.name, plan.table.name,
                               batch.column(plan.table.id_column).take(placement.rows[own]),
                               placement.chunks[own], placement.subchunks[own],
                               plan.transaction_id, plan.contribution_id)
            self._store(plan, stored, placement.chunks)
            for chunk, overlap, count in _chunk_counts(placement):
                counts[chunk][1 if overlap else 0] += count
            crash_point("contribution-partly-loaded")
            if progress is not None:
                progress(len(batch))
        if plan.table.kind == "director" and not plan.table.non_unique:
            self._refuse_duplicates(plan.database.name, plan.table, plan.transaction_id, plan.hidden,
                                    source_label=plan.key_label)
        return counts

    def _place(self, plan, batch, origin):
        table = plan.table
        if table.kind == "director":
            return partitioner.spatial(batch, table.ra_column, table.dec_column, plan.grid, origin)
        if table.kind == "child" and table.ra_column:
            return partitioner.spatial(batch, table.ra_column, table.dec_column, plan.grid, origin,
                                       with_overlap=False)
        if table.kind == "child":
            return self._place_by_director(plan, batch, origin)
        if table.kind == "time":
            return partitioner.time_buckets(batch, table.partition_column, table.bucket_size, origin)
        if table.kind == "hash":
            return partitioner.hash_buckets(batch, table.partition_column, table.bucket_count, origin)
        return partitioner.Placement.one_copy_each(np.full(len(batch), partitioner.NO_CHUNK, np.int64))

    def _place_by_director(self, plan, batch, origin):
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

    def _store(self, plan, stored, chunks):
        if plan.table.kind == "replicated":
            targets = {worker.id: None for worker in plan.workers}
        else:
            with self.store.session() as session:
                placed = replicas_of(session, session.merge(plan.database), chunks)
            targets = rows_per_worker(chunks, placed)
        by_id = {worker.id: worker for worker in plan.workers}
        name = physical_table_name(plan.database.name, plan.table.name)
        for worker_id, mask in targets.items():
            rows = stored if mask is None else stored.filter(mask)
            if len(rows):
                worker = self.pool.get(by_id[worker_id])
                worker.ensure_table(name, plan.columns)
                worker.load(name, rows)

    # -- helpers ----------------------------------------------------------------------------
    def _refuse_duplicates(self, database_name, table, transaction_id, hidden, source_label=None):
        duplicates = self.index.duplicates(database_name, table.name, transaction_id, hidden)
        if duplicates:
            raise InputError(source_label or f"transaction {transaction_id}",
                             f"duplicate {table.name}.{table.id_column} values (table is unique): "
                             f"{', '.join(map(repr, duplicates))}")

    def _fail_contribution(self, plan, exc):
        with self.store.session() as session:
            self._delete_rows(plan.database.name, [plan.table], active_workers(session),
                              f"_qserv_contrib = {plan.contribution_id}")
            contribution = session.get(Contribution, plan.contribution_id)
            contribution.state = "failed"
            contribution.error = str(exc)[:2000] or type(exc).__name__

    def _delete_rows(self, database_name, tables, workers, condition_sql):
        for table in tables:
            name = physical_table_name(database_name, table.name)
            for worker_row in workers:
                worker = self.pool.get(worker_row)
                if worker.table_exists(name):
                    worker.delete_where(name, condition_sql)
            if table.kind == "director":
                self.index.delete(database_name, table.name,
                                  condition_sql.replace("_qserv_txn", "txn").replace("_qserv_contrib", "contrib"))

    @staticmethod
    def _tables_touched(session, transaction_id):
        return session.scalars(select(Table).join(Contribution, Contribution.table_id == Table.id).where(
            Contribution.transaction_id == transaction_id).distinct()).all()

    @staticmethod
    def _add_chunk_counts(session, transaction_id):
        rows = session.execute(
            select(Contribution.table_id, ContributionChunk.chunk, ContributionChunk.rows,
                   ContributionChunk.overlap_rows)
            .join(Contribution, Contribution.id == ContributionChunk.contribution_id)
            .where(Contribution.transaction_id == transaction_id, Contribution.state == "loaded")
        ).all()
        totals = defaultdict(lambda: [0, 0])
        for table_id, chunk, own, overlap in rows:
            totals[(table_id, chunk)][0] += own
            totals[(table_id, chunk)][1] += overlap
        for (table_id, chunk), (own, overlap) in totals.items():
            record = session.get(Chunk, (table_id, chunk))
            if record is None:
                session.add(Chunk(table_id=table_id, chunk=chunk, rows=own, overlap_rows=overlap))
            else:
                record.rows += own
                record.overlap_rows += overlap


def _chunk_counts(placement):
    """(chunk, is_overlap, count) triples of a placement."""
    keys = placement.chunks * 2 + placement.overlap.astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    return [(int(k // 2), bool(k % 2), int(n)) for k, n in zip(unique, counts)]


@dataclass
class _LoadPlan:
    """What a contribution needs, detached from the session it was read in."""

    database: object
    table: Table
    director: Table | None
    columns: list
    grid: ChunkGrid
    workers: list
    hidden: set
    transaction_id: int
    contribution_id: int
    key_label: str

    @classmethod
    def of(cls, session, table, transaction_id, contribution_id):
        database = table.database
        contribution = session.get(Contribution, contribution_id)
        director = table.director
        if director is not None:
            director.database  # load before the session closes
        return cls(
            database=database, table=table, director=director, columns=table_columns(table),
            grid=ChunkGrid(database.chunk_order, database.subchunk_order, database.overlap_arcsec),
            workers=list(active_workers(session)), hidden=pending_transactions(session, transaction_id),
            transaction_id=transaction_id, contribution_id=contribution_id,
            key_label=contribution.source or contribution.key,
        )
