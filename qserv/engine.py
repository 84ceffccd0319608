"""The facade: ``qserv.open(home)`` returns an Engine for administration, ingest and reads."""

from pathlib import Path

import pyarrow as pa
from sqlalchemy import select

from qserv.exec.pool import WorkerPool
from qserv.exec.worker import physical_table_name
from qserv.ingest.director_index import DirectorIndex
from qserv.ingest.transactions import Transactions, pending_transactions
from qserv.instance import read_instance, resolve_home
from qserv.meta import admin
from qserv.meta.catalog import active_workers, get_database, get_table, split_table_name, table_columns
from qserv.meta.models import Chunk, Replica, Transaction, Worker
from qserv.meta.store import MetaStore
from qserv.schema.types import duckdb_type
from qserv.settings import load_settings, store_setting


class Engine:
    """An open instance. Thread-safe; close it (or use it as a context manager) when done."""

    def __init__(self, home=None):
        self.home = resolve_home(home)
        self.store = MetaStore(read_instance(self.home)["meta_url"])
        self.store.ensure_current()
        self.pool = WorkerPool()
        self.index = DirectorIndex(self.home / "index.duckdb")
        with self.store.session() as session:
            self.settings = load_settings(session)
        self.transactions = Transactions(self.store, self.pool, self.index, self.settings)
        self.transactions.recover()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.pool.close()
        self.index.close()
        self.store.dispose()

    # -- administration ---------------------------------------------------------------------
    def create_database(self, name, chunk_order=7, subchunk_order=10, overlap_arcsec=60.0, replication=1):
        with self.store.session() as session:
            admin.create_database(session, name, chunk_order, subchunk_order, overlap_arcsec, replication)

    def create_table(self, qualified_name, spec):
        database_name, table_name = split_table_name(qualified_name)
        with self.store.session() as session:
            table = admin.create_table(session, database_name, table_name, spec)
            columns = table_columns(table)
            workers = active_workers(session)
            if table.kind == "director":
                id_column = next(c for c in columns if c.name == table.id_column)
                self.index.ensure(database_name, table_name, duckdb_type(id_column))
            for worker in workers:
                self.pool.get(worker).ensure_table(physical_table_name(database_name, table_name), columns)

    def publish(self, database_name):
        with self.store.session() as session:
            get_database(session, database_name).published = True

    def set_setting(self, name, value):
        """Store an instance setting (see qserv.settings); it applies from the next open."""
        with self.store.session() as session:
            return store_setting(session, name, value)

    # -- ingest -----------------------------------------------------------------------------
    def ingest(self, qualified_name, sources, format=None, null=None, progress=None):
        """Load files or Arrow tables into one table in one transaction: all or nothing."""
        database_name, table_name = split_table_name(qualified_name)
        transaction_id = self.transactions.begin(database_name)
        try:
            results = [
                self.transactions.contribute(transaction_id, table_name, source, format=format,
                                             null=null, progress=progress,
                                             key=None if isinstance(source, (str, Path)) else f"batch-{i}")
                for i, source in enumerate(sources)
            ]
            self.transactions.commit(transaction_id)
        except BaseException:
            self.transactions.abort(transaction_id)
            raise
        return transaction_id, results

    def list_transactions(self, database_name=None):
        with self.store.session() as session:
            query = select(Transaction).order_by(Transaction.id)
            if database_name:
                query = query.where(Transaction.database_id == get_database(session, database_name).id)
            return [(t.id, t.database.name, t.state, t.started_at, t.ended_at)
                    for t in session.scalars(query)]

    # -- inspection -------------------------------------------------------------------------
    def chunks(self, qualified_name):
        """[(chunk, rows, overlap_rows, [worker names])] of committed rows, by chunk."""
        database_name, table_name = split_table_name(qualified_name)
        with self.store.session() as session:
            table = get_table(session, database_name, table_name)
            names = {w.id: w.name for w in session.scalars(select(Worker))}
            placement = {}
            for chunk, worker_id in session.execute(
                    select(Replica.chunk, Replica.worker_id).where(Replica.database_id == table.database_id)):
                placement.setdefault(chunk, []).append(names[worker_id])
            if table.kind == "replicated":
                everywhere = sorted(names.values())
            return [(c.chunk, c.rows, c.overlap_rows,
                     everywhere if table.kind == "replicated" else sorted(placement.get(c.chunk, [])))
                    for c in session.scalars(select(Chunk).where(Chunk.table_id == table.id).order_by(Chunk.chunk))]

    def read_table(self, qualified_name, include_overlap=False):
        """All visible rows of a table as one pyarrow.Table (user columns only unless
        ``include_overlap``, which adds the system columns and the overlap copies)."""
        database_name, table_name = split_table_name(qualified_name)
        with self.store.session() as session:
            table = get_table(session, database_name, table_name)
            columns = table_columns(table)
            hidden = pending_transactions(session)
            workers = {w.id: w for w in active_workers(session)}
            readers = {}
            if table.kind == "replicated":
                readers[next(iter(workers))] = None
            else:
                for chunk, worker_id in session.execute(
                        select(Replica.chunk, Replica.worker_id).where(Replica.database_id == table.database_id)
                        .order_by(Replica.chunk, Replica.worker_id)):
                    if worker_id in workers and not any(chunk in c for c in readers.values()):
                        readers.setdefault(worker_id, set()).add(chunk)
        name = physical_table_name(database_name, table_name)
        select_list = "*" if include_overlap else ", ".join(f'"{c.name}"' for c in columns)
        conditions = ["TRUE"]
        if hidden:
            conditions.append(f"_qserv_txn NOT IN ({', '.join(map(str, sorted(hidden)))})")
        if not include_overlap:
            conditions.append("NOT _qserv_overlap")
        parts = []
        for worker_id, chunks in readers.items():
            where = list(conditions)
            if chunks is not None:
                where.append(f"_qserv_chunk IN ({', '.join(map(str, sorted(chunks)))})")
            parts.append(self.pool.get(workers[worker_id]).query(
                f'SELECT {select_list} FROM "{name}" WHERE {" AND ".join(where)}'))
        if not parts:
            parts.append(self.pool.get(next(iter(workers.values()))).query(
                f'SELECT {select_list} FROM "{name}" WHERE FALSE'))
        return pa.concat_tables(parts, promote_options="permissive")

