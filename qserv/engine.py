"""The facade: ``qserv.open(home)`` returns an Engine for administration, ingest and reads."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
import time

import pyarrow as pa
from sqlalchemy import select
from sqlglot import exp

from qserv import chunk_indexes, drops
from qserv.errors import QservError, QueryBindError, QueryCancelledError, UserError
from qserv.exec.cancel import Cancellation
from qserv.exec.context import ExecutionContext, WorkerAccess
from qserv.exec.executor import QueryRun
from qserv.exec.explain import explain_plan
from qserv.exec.moves import ChunkMover
from qserv.exec.pool import WorkerPool
from qserv.exec.query_tracker import RunningQueries
from qserv.ingest.director_index import DirectorIndex
from qserv.ingest.transactions import Transactions, pending_transactions
from qserv.instance import read_instance, resolve_home
from qserv.meta import admin
from qserv.meta.catalog import active_workers, get_database, get_table, split_table_name, table_columns
from qserv.meta.models import Chunk, Replica, Transaction, Worker
from qserv.meta.log_writer import QueryLogWriter
from qserv.meta.query_log import recent_queries
from qserv.meta.snapshot import SnapshotCache
from qserv.meta.snapshots import resolve as resolve_as_of, visibility_of
from qserv.meta.tap_schema import TAP_SCHEMA_COLUMNS, tap_schema_tables
from qserv.meta.store import MetaStore
from qserv.merge.czar import Czar, conform
from qserv.query.areaspec import rewrite_areaspecs
from qserv.query.inline import czar_relations, inline_table
from qserv.query.plan import plan_query
from qserv.query.plan_cache import (UNCACHEABLE, Entry, PlanCache, build_entry, instantiate, lifted_literals,
                                    marked_text, probe_text)
from qserv.query.result_columns import declared_columns, written_names
from qserv.query.shape import query_shape
from qserv.replication import Replication
from qserv.schema.columns import field_with_column
from qserv.schema.types import arrow_type, duckdb_type
from qserv.settings import load_settings, store_setting
from qserv.sql.chunk_columns import unbound
from qserv.sql.dialects import parse, resolve_identifiers, to_sql
from qserv.sql.mysql import mysql_semantics
from qserv.sql.bind_errors import in_user_words
from qserv.storage import OWN_ROWS_CONDITION, physical_table_name, visible_condition, visible_live_condition


STATEMENT_THREADS = 256


class Engine:
    """An open instance. Thread-safe; close it (or use it as a context manager) when done."""

    def __init__(self, home=None, read_only=False):
        self.home = resolve_home(home)
        self.store = MetaStore(read_instance(self.home)["meta_url"])
        self.store.ensure_current()
        self.pool = WorkerPool(self.home)
        self.index = DirectorIndex(self.home / "index.duckdb", read_only=read_only)
        with self.store.session() as session:
            self.settings = load_settings(session)
        self.transactions = Transactions(self.store, self.pool, self.index, self.settings)
        if not read_only:  # recovery writes: left to the next process that opens the instance to write
            self.transactions.recover()
        self.running = RunningQueries()
        self.mover = ChunkMover(self.store, self.pool, self.running, self.settings["query_timeout_s"])
        if not read_only:
            self.mover.recover()
        self.replication = Replication(self)
        self.czar = Czar(self.settings["czar_memory_mb"], self.home / "tmp" / "czar")
        self.query_log = QueryLogWriter(self.store)
        self._snapshots = SnapshotCache()
        self.plans = PlanCache(self.settings["plan_cache_shapes"])
        # Worker statements of all queries run on these threads (each query keeps at most
        # ``query_threads`` of its own going); sized so that concurrent queries rarely wait.
        self.statement_pool = ThreadPoolExecutor(STATEMENT_THREADS, thread_name_prefix="qserv-statement")
        self.execution = ExecutionContext(WorkerAccess(self.pool, self.settings["worker_suspect_s"]),
                                          self.index.chunks_holding, self.czar, self.statement_pool, self.settings)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.statement_pool.shutdown(wait=True)
        self.query_log.close()
        self.czar.close()
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
            drops.clear_leftovers(self, workers, database_name, table_name)
            if table.kind == "director":
                id_column = next(c for c in columns if c.name == table.id_column)
                self.index.ensure(database_name, table_name, duckdb_type(id_column))
            for worker in workers:
                self.pool.get(worker).ensure_table(physical_table_name(database_name, table_name), columns)

    def drop_table(self, qualified_name, force=False):
        """Drop a table (``qserv.drops``): a ``DropReport``."""
        return drops.drop_table(self, qualified_name, force)

    def drop_database(self, database_name, force=False):
        """Drop a database and its tables (``qserv.drops``): a ``DropReport``."""
        return drops.drop_database(self, database_name, force)

    def publish(self, database_name):
        with self.store.session() as session:
            get_database(session, database_name).published = True

    def set_setting(self, name, value):
        """Store an instance setting (see qserv.settings); it applies from the next open."""
        with self.store.session() as session:
            return store_setting(session, name, value)

    # -- workers and replicas (qserv.replication) --------------------------------------------
    def add_worker(self, name, backend="duckdb", dsn=None):
        return self.replication.add_worker(name, backend, dsn)

    def list_workers(self):
        return self.replication.list_workers()

    def set_worker_state(self, name, state):
        self.replication.set_worker_state(name, state)

    def drain_worker(self, name, progress=None):
        return self.replication.drain(name, progress)

    def remove_worker(self, name):
        self.replication.remove_worker(name)

    def replicate(self, database_name, level, progress=None):
        return self.replication.replicate(database_name, level, progress)

    def rebalance(self, database_name, progress=None):
        return self.replication.rebalance(database_name, progress)

    def verify(self, database_name, repair=False, progress=None):
        return self.replication.verify(database_name, repair, progress)

    def create_index(self, qualified_name, column):
        return chunk_indexes.create_index(self, qualified_name, column)

    def drop_index(self, qualified_name, column):
        return chunk_indexes.drop_index(self, qualified_name, column)

    def indexes(self, qualified_name):
        return chunk_indexes.indexed_columns(self, qualified_name)

    def table_layout(self, qualified_name):
        """(kind, chunk order) of a table."""
        with self.store.session() as session:
            table = get_table(session, *split_table_name(qualified_name))
            return table.kind, table.database.chunk_order

    # -- ingest -----------------------------------------------------------------------------
    def ingest(self, qualified_name, sources, format=None, null=None, progress=None, committing=None):
        """Load files or Arrow tables into one table in one transaction: all or nothing.
        ``progress(rows)`` is called as rows are loaded, ``committing()`` before the commit."""
        database_name, table_name = split_table_name(qualified_name)
        transaction_id = self.transactions.begin(database_name)
        try:
            results = [
                self.transactions.contribute(transaction_id, table_name, source, format=format,
                                             null=null, progress=progress,
                                             key=None if isinstance(source, (str, Path)) else f"batch-{i}")
                for i, source in enumerate(sources)
            ]
            if committing is not None:
                committing()
            self.transactions.commit(transaction_id)
        except BaseException:
            self.transactions.abort(transaction_id)
            raise
        return transaction_id, results

    def delete_rows(self, qualified_name, column, values, transaction_id=None):
        """Delete the rows whose ``column`` is in ``values`` (``qserv.ingest.deletes``): inside the
        open transaction ``transaction_id`` (invisible at its commit, back at its abort), or in a
        transaction of its own. The count of the table's rows deleted."""
        database_name, table_name = split_table_name(qualified_name)
        if transaction_id is not None:
            return self.transactions.delete(transaction_id, table_name, column, values)
        transaction_id = self.transactions.begin(database_name, note=f"delete from {table_name}")
        try:
            deleted = self.transactions.delete(transaction_id, table_name, column, values)
            self.transactions.commit(transaction_id)
        except BaseException:
            self.transactions.abort(transaction_id)
            raise
        return deleted

    def replace_rows(self, qualified_name, key_column, table):
        """In one transaction: delete the rows whose ``key_column`` is in ``table[key_column]``,
        then load ``table`` (an upsert by key); (transaction id, rows deleted)."""
        database_name, table_name = split_table_name(qualified_name)
        if key_column not in table.column_names:
            raise UserError(f"{qualified_name}: the rows to load have no key column {key_column!r}")
        transaction_id = self.transactions.begin(database_name, note=f"replace rows of {table_name}")
        try:
            deleted = self.transactions.delete(transaction_id, table_name, key_column, table.column(key_column))
            self.transactions.contribute(transaction_id, table_name, table, key="replace")
            self.transactions.commit(transaction_id)
        except BaseException:
            self.transactions.abort(transaction_id)
            raise
        return transaction_id, deleted

    def purge_deleted(self, database_name, keep_for=None, grace_s=None):
        """Remove deleted rows no reader needs (``qserv.ingest.deletes.purge``): not those the
        visibilities ``keep_for`` (default: the snapshots not released, ``qserv snapshot``) still
        see, nor those deleted less than ``grace_s`` (default: the query time limit) ago. The count
        of stored rows removed."""
        from datetime import timedelta

        from qserv.meta.models import utc_now
        from qserv.meta.snapshots import pinned_visibilities
        from qserv.ingest.deletes import purge

        if keep_for is None:
            with self.store.session() as session:
                keep_for = pinned_visibilities(session)

        grace_s = self.settings["query_timeout_s"] if grace_s is None else grace_s
        return purge(self.transactions, database_name, keep_for, utc_now() - timedelta(seconds=grace_s))

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
            row_deletes = table.row_deletes
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
        conditions = [visible_live_condition(hidden) if row_deletes else visible_condition(hidden)]
        if not include_overlap:
            conditions.append(OWN_ROWS_CONDITION)
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


    # -- queries ----------------------------------------------------------------------------
    def _snapshot(self, db, include_unpublished):
        """The CatalogSnapshot a query reads (without ``include_unpublished``, only published
        databases); a ``db`` without tables is a user error."""
        with self.store.session() as session:
            snapshot = self._snapshots.read(session)
        if not include_unpublished:
            snapshot = snapshot.published_only()
        if db is not None and not any(info.database == db for info in snapshot.tables.values()):
            raise UserError(f"no database {db!r} with tables")
        return snapshot

    def _prepare(self, text, lang, db, uploads=None, max_rows=None, include_unpublished=True, snapshot=None):
        """(snapshot, resolved tree, plan, result schema) of a query; user errors raise here.
        ``uploads`` (name -> pyarrow.Table) are readable as TAP_UPLOAD.name; ``max_rows`` caps
        the rows of the answer (as a LIMIT); without ``include_unpublished`` the tables of
        unpublished databases do not exist for the query (nor in its TAP_SCHEMA)."""
        snapshot = snapshot or self._snapshot(db, include_unpublished)
        parsed = parse(text, lang)
        tables = {**snapshot.tables, **self._inline_tables(parsed, uploads, include_unpublished)}
        snapshot = replace(snapshot, tables=tables)
        columns = {key: info.column_names for key, info in tables.items()}
        kinds = {key: info.kind for key, info in tables.items()}
        tree = resolve_identifiers(parsed, columns, default_database=db, qualified_only=db is None, kinds=kinds)
        tree = rewrite_areaspecs(tree, tables)
        if lang == "qserv":
            tree = mysql_semantics(tree, tables)
        if max_rows is not None:
            tree = _capped(tree, max_rows)
        self.czar.sync_tables({key: info for key, info in tables.items() if not info.inline})
        czar_tree, relations = czar_relations(unbound(tree), tables)
        try:
            schema = self.czar.result_schema(to_sql(czar_tree, "duckdb", copy=False), relations)
        except QueryBindError as error:  # the binder's words -> the query's (qserv.sql.bind_errors)
            raise QueryBindError(in_user_words(str(error), text) or str(error)) from None
        schema = _declared(schema, declared_columns(tree, tables))
        schema = pa.schema([f.with_name(n) for f, n in zip(schema, written_names(text, lang, tree, schema.names))])
        return snapshot, tree, plan_query(tree, tables), schema

    def _prepare_cached(self, text, lang, db, uploads, max_rows, include_unpublished, as_of=None):
        """(snapshot, plan, result schema, worker templates or None) of a query, from the plan
        cache (``qserv.query.plan_cache``) when a query of its shape was planned before; the
        snapshot reads the rows of ``as_of`` (``qserv.meta.snapshots.resolve``) when given."""
        snapshot = self._snapshot(db, include_unpublished)
        if as_of is not None:
            with self.store.session() as session:
                label, hidden = resolve_as_of(session, as_of)
            snapshot = replace(snapshot, hidden_transactions=hidden, pinned=label or True)
        shape = query_shape(text) if self.plans.size and not uploads else None
        if shape is None:
            snapshot, _, plan, schema = self._prepare(text, lang, db, uploads, max_rows, include_unpublished, snapshot)
            return snapshot, plan, schema, None
        key = (shape.key, lang, db, include_unpublished, max_rows, snapshot.catalog_version, bool(snapshot.pinned))
        found, learn = self.plans.lookup(key, shape.literals)
        if isinstance(found, Entry):
            try:
                prepared = instantiate(found, shape.literals)
            except QservError:  # the full path below gives the planner's error
                prepared = None
            if prepared is not None:
                return snapshot, prepared.plan, prepared.schema, prepared.templates
        snapshot, _, plan, schema = self._prepare(text, lang, db, None, max_rows, include_unpublished, snapshot)
        if learn:
            self._learn(key, shape, snapshot, (plan, schema), lang, db, max_rows, include_unpublished)
        return snapshot, plan, schema, None

    def _learn(self, key, shape, snapshot, real, lang, db, max_rows, include_unpublished):
        """Plan the probe of a shape seen again and keep what it proves (``build_entry``)."""
        lifted = ()
        try:
            lifted = lifted_literals(shape, parse(marked_text(shape), lang))
            _, _, probe_plan, probe_schema = self._prepare(probe_text(shape, lifted), lang, db, None, max_rows,
                                                           include_unpublished, snapshot)
        except QservError:
            entry = UNCACHEABLE
        else:
            backends = {worker.backend for worker in snapshot.workers.values()}
            entry = build_entry(shape, lifted, real, (probe_plan, probe_schema), snapshot.tables, backends)
        self.plans.store(key, shape.literals, lifted, entry)

    def _inline_tables(self, tree, uploads, include_unpublished):
        """TableInfos of TAP_SCHEMA (when ``tree`` reads it) and of the uploads (TAP_UPLOAD)."""
        found = {}
        for name, rows in (uploads or {}).items():
            info = inline_table("TAP_UPLOAD", name, rows)
            found[info.key] = info
        if any(table.args.get("db") and table.args["db"].name.upper() == "TAP_SCHEMA"
               for table in tree.find_all(exp.Table)):
            for name, rows in self.tap_schema(include_unpublished).items():
                info = inline_table("TAP_SCHEMA", name, rows, TAP_SCHEMA_COLUMNS[name])
                found[info.key] = info
        return found

    def query(self, text, lang="adql", db=None, user=None, timeout_s=None, cancellation=None,
              uploads=None, max_rows=None, include_unpublished=True, progress=None, as_of=None):
        """The answer of one ADQL (``lang="adql"``) or Qserv SQL (``"qserv"``) query as a
        pyarrow.Table; ``db`` is the database of unqualified table names. ``uploads`` (name ->
        pyarrow.Table) are tables the query may read as TAP_UPLOAD.name; ``max_rows`` caps the
        answer (TAP's MAXREC); ``include_unpublished=False`` (TAP users who are not admins) sees
        only published databases. Result columns that are catalog columns carry their declaration in
        the field metadata (``qserv.schema.columns.column_of_field``). Every query is recorded
        in the query log (``qserv history``) with its fingerprint (``qserv.fingerprint``). ``as_of``
        (a snapshot name, ``qserv snapshot tag``, or a logged visibility) reads the rows as of then."""
        started = time.monotonic()
        logged = self.query_log.started(text, lang, database=db, user=user)
        cancellation = cancellation or Cancellation(timeout_s or self.settings["query_timeout_s"])
        cancellation.progress = progress or cancellation.progress  # a qserv.progress.ChunkProgress
        run = snapshot = None
        try:
            with self.running.track():  # a moved chunk's old copy stays until the query ends
                snapshot, plan, schema, templates = self._prepare_cached(text, lang, db, uploads, max_rows,
                                                                         include_unpublished, as_of)
                planned = time.monotonic()
                run = QueryRun(self.execution, snapshot, cancellation)
                if templates is not None:
                    run.use_templates(plan, templates)
                result = conform(run.run(plan), schema)
        except BaseException as error:
            status = "cancelled" if isinstance(error, QueryCancelledError) else "error"
            message = str(error) if isinstance(error, QservError) else f"internal error: {error!r}"
            self._finish(logged, started, status, None, run, message, _visibility(snapshot))
            raise
        ran = time.monotonic()
        self._finish(logged, started, "ok", result.num_rows, run, None, dict(
            _visibility(snapshot), plan_s=planned - started, workers_s=run.workers_s,
            merge_s=ran - planned - run.workers_s), answer=result)
        return result

    def _finish(self, logged, started, status, rows, run, error, fingerprint, answer=None):
        """Queue the query's log entry; the log writer adds the fingerprint of ``answer``."""
        self.query_log.finished(logged, status, time.monotonic() - started, rows=rows,
                                chunks=run.chunks_touched if run else None, error=error, fingerprint=fingerprint,
                                answer=answer)

    def tap_schema(self, include_unpublished=True):
        """The TAP_SCHEMA tables ("schemas", "tables", ... -> pyarrow.Table,
        ``qserv.meta.tap_schema``); only published databases without ``include_unpublished``."""
        with self.store.session() as session:
            return tap_schema_tables(session, include_unpublished)

    def recent_queries(self, limit=20, status=None, user=None):
        """The query log, newest first (``qserv.meta.query_log.recent_queries``), including every
        query this engine has finished."""
        self.query_log.flush()
        with self.store.session() as session:
            return recent_queries(session, limit=limit, status=status, user=user)

    def explain(self, text, lang="adql", db=None, uploads=None, include_unpublished=True):
        """A readable description of how a query runs: its plan, the chunks it reads, the worker
        statements and the merge statement (``include_unpublished`` as in ``query``)."""
        snapshot, _, plan, _ = self._prepare(text, lang, db, uploads, include_unpublished=include_unpublished)
        return explain_plan(plan, QueryRun(self.execution, snapshot, Cancellation()))

    def reference_sql(self, text, lang="adql", db=None):
        """The query as DuckDB SQL over unsharded tables named "db"."table" (the differential
        tests' oracle runs it on one DuckDB holding the same rows, with the worker functions)."""
        _, tree, _, _ = self._prepare(text, lang, db)
        return to_sql(tree, "duckdb")

    # -- facades of the central state for the CLI and the TAP service -------------------------
    @property
    def users(self):
        """Users and tokens of the TAP service (``qserv.meta.accounts.Accounts``)."""
        from qserv.meta.accounts import Accounts

        return Accounts(self.store)

    @property
    def tap_jobs(self):
        """TAP async jobs (``qserv.meta.job_store.TapJobStore``)."""
        from qserv.meta.job_store import TapJobStore

        return TapJobStore(self.store, self.settings)

    def warm_up(self):
        """Read the catalog and its chunk map now (a server does before taking requests, so that
        its first requests do not all read them at once)."""
        with self.store.session() as session:
            self._snapshots.read(session)


def _visibility(snapshot):
    """The query log's record of what a query read (none when it failed before reading)."""
    if snapshot is None:
        return {}
    pinned = snapshot.pinned if isinstance(snapshot.pinned, str) else None
    return {"visibility": visibility_of(snapshot.hidden_transactions), "as_of": pinned}


def _capped(tree, max_rows):
    """``tree`` returning at most ``max_rows`` rows (its own LIMIT when smaller)."""
    limit = tree.args.get("limit")
    if limit is not None and isinstance(limit.expression, exp.Literal) and int(limit.expression.name) <= max_rows:
        return tree
    return tree.limit(max_rows)


def _declared(schema, columns):
    """``schema`` with the declarations of the result columns that are catalog columns of the
    same Arrow type."""
    if columns is None or len(columns) != len(schema):
        return schema
    return pa.schema([field_with_column(field, column) if column is not None and arrow_type(column) == field.type
                      else field for field, column in zip(schema, columns)])
