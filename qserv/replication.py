"""DBA operations on workers and replicas (``qserv worker ...``, ``replicate``, ``rebalance``,
``verify``), built on the central state (qserv.meta.workers), the plans (qserv.replica_plans) and
the crash-safe chunk changes (qserv.exec.moves).

A ``progress`` callback is called ``progress(0, n)`` when ``n`` more steps are planned and
``progress(1)`` after each step."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import os

from sqlalchemy import select

from qserv.chunk_indexes import copy_indexes
from qserv.errors import ConflictError, UserError, WorkerQueryError, WorkerUnavailableError
from qserv.exec.backends import open_worker
from qserv.exec.chunk_rows import copy_chunk, sign_chunks
from qserv.exec.moves import chunked_tables
from qserv.ingest.transactions import pending_transactions
from qserv.meta import workers as registry
from qserv.meta.catalog import active_workers, get_database, table_columns
from qserv.meta.models import Database
from qserv.replica_plans import plan_drain, plan_level, plan_rebalance
from qserv.replicated_copies import WHOLE_TABLE, rebuild_copy, replicated_tables, sign_copies
from qserv.storage import physical_table_name

MOVE_BATCH = 32  # chunk changes switched together (one verify per worker pair and table)


@dataclass
class WorkerStatus:
    name: str
    backend: str
    location: str
    state: str
    chunks: int
    rows: int
    bytes: int | None
    error: str | None


@dataclass
class ReplicaCheck:
    """One replica of a chunk as ``verify`` found it: ok, differs, missing or unreachable."""

    chunk: int  # -1 for a replicated table's copy
    worker: str
    status: str
    rows: int | None
    repaired: bool = False
    table: str | None = None  # DB.TABLE of a replicated table's copy


@dataclass
class VerifyReport:
    database: str
    chunks: int = 0
    replicas: int = 0
    problems: list = field(default_factory=list)  # ReplicaCheck of every replica not ok
    copies: int = 0  # copies of replicated tables checked (one per table and active worker)


class Replication:
    """The operations of one engine: ``engine.store``, ``engine.pool``, ``engine.mover``."""

    def __init__(self, engine):
        self.engine = engine
        self.store, self.pool, self.mover = engine.store, engine.pool, engine.mover

    # -- workers ----------------------------------------------------------------------------
    def add_worker(self, name, backend="duckdb", dsn=None):
        """Register a worker: its tables are created and the replicated tables copied to it
        before it becomes active."""
        if (backend == "postgres") != (dsn is not None):
            raise UserError("a PostgreSQL worker needs --dsn DSN; a DuckDB worker takes none")
        location = dsn if dsn is not None else f"workers/{name}.duckdb"
        with self.store.session() as session:
            registry.check_new_worker(session, name, backend, location)
        path_or_dsn = dsn if dsn is not None else str(self.engine.home / location)
        try:
            new = open_worker(name, backend, path_or_dsn)
        except WorkerUnavailableError as exc:
            raise UserError(f"cannot use the new worker: {exc}") from exc
        try:
            self._fill(new)
        finally:
            new.close()
        with self.store.session() as session:
            worker = registry.register_worker(session, name, backend, location)
            return worker.id

    def _fill(self, new):
        """Create every catalog table on a new worker and copy the replicated tables' rows."""
        with self.store.session() as session:
            databases = session.scalars(select(Database).order_by(Database.id)).all()
            tables = [(physical_table_name(d.name, t.name), table_columns(t), t.kind)
                      for d in databases for t in d.tables]
            source = (active_workers(session) or [None])[0]
        for table, columns, kind in tables:
            new.ensure_table(table, columns)
            if source is not None:
                copy_indexes(self.pool.get(source), new, table, columns)
            if kind == "replicated" and source is not None:
                new.delete_where(table, "TRUE")
                rows = self.pool.get(source).query(f'SELECT * FROM "{table}"')
                if rows.num_rows:
                    new.load(table, rows)

    def list_workers(self):
        with self.store.session() as session:
            rows = registry.listed_workers(session)
            used = registry.usage(session)
        return [self._status(row, used.get(row.id, (0, 0))) for row in rows]

    def _status(self, row, used):
        """A worker's status; its size is read from the worker (an error says why it cannot be)."""
        from qserv.exec.postgres_worker import redact

        size, error = None, None
        try:
            size = _worker_bytes(self.pool.get(row), self.pool.location(row))
        except (WorkerUnavailableError, WorkerQueryError) as exc:
            self.pool.discard(row.id)
            error = str(exc)
        location = redact(row.location) if row.backend == "postgres" else self.pool.location(row)
        return WorkerStatus(row.name, row.backend, location, row.state, used[0], used[1], size, error)

    def set_worker_state(self, name, state):
        with self.store.session() as session:
            registry.set_state(session, name, state)

    def drain(self, name, progress=None):
        """Move every chunk of worker ``name`` to other active workers, then mark it drained."""
        with self.store.session() as session:
            worker = registry.get_worker(session, name)
            worker_id = worker.id
            active = [w.id for w in active_workers(session) if w.id != worker_id]
            databases = [d.id for d in session.scalars(select(Database).order_by(Database.id))]
        done = 0
        for database_id in databases:
            holders, weights = self._placement(database_id)
            steps = plan_drain(holders, weights, active, worker_id)
            done += self._apply(database_id, steps, progress)
        with self.store.session() as session:
            left = [k for k, w in registry.holders(session).items() if worker_id in w]
            if left:
                raise ConflictError(f"worker {name} got {len(left)} new chunk(s) while draining; drain again")
            registry.get_worker(session, name).state = "drained"
        return done

    def remove_worker(self, name):
        with self.store.session() as session:
            worker = registry.get_worker(session, name)
            only = registry.sole_replicas(session, worker.id)
            if only:
                shown = ", ".join(f"{db} chunk {chunk}" for db, chunk in only[:5])
                raise ConflictError(f"worker {name} holds the only replica of {len(only)} chunk(s) "
                                    f"({shown}); drain it first")
            registry.retire(session, worker)
            worker_id = worker.id
        self.pool.discard(worker_id)

    # -- replicas ---------------------------------------------------------------------------
    def replicate(self, database_name, level, progress=None):
        database_id, active = self._database(database_name)
        holders, weights = self._placement(database_id)
        steps = plan_level(holders, weights, active, level)
        done = self._apply(database_id, steps, progress)
        with self.store.session() as session:
            session.get(Database, database_id).replication = level
        return done

    def rebalance(self, database_name, progress=None):
        database_id, active = self._database(database_name)
        holders, weights = self._placement(database_id)
        return self._apply(database_id, plan_rebalance(holders, weights, active), progress)

    def verify(self, database_name, repair=False, progress=None):
        """Sign every replica of every chunk (rows and checksum of its visible rows, per table)
        and every active worker's copy of each replicated table; a replica or copy unlike the
        majority (or, in a tie, unlike the committed row counts) is reported and, with ``repair``,
        copied again from a good one."""
        with self.store.session() as session:
            database = get_database(session, database_name)
            holders = {chunk: ws for (_, chunk), ws in registry.holders(session, database.id).items()}
            workers = {w.id: w for w in registry.listed_workers(session)}
            tables = chunked_tables(database)
            expected = registry.chunk_rows(session, database.id)
            expected = {chunk: rows for (_, chunk), rows in expected.items()}
            hidden = pending_transactions(session)
            replicated = replicated_tables(session, database)
            active = active_workers(session)
        report = VerifyReport(database_name, len(holders), sum(map(len, holders.values())))
        if progress is not None:
            progress(0, len(holders))
        signing = sorted({w for ws in holders.values() for w in ws})
        with ThreadPoolExecutor(max(1, len(signing)), thread_name_prefix="qserv-verify") as threads:
            signed = threads.map(lambda w: self._signatures(
                workers[w], tables, sorted(c for c, ws in holders.items() if w in ws), hidden), signing)
            signatures = dict(zip(signing, signed))
        for chunk in sorted(holders):
            checks = _judge(chunk, holders[chunk], signatures, expected.get(chunk, 0), len(tables))
            good = [w for w, status, _ in checks if status == "ok"]
            for worker_id, status, rows in checks:
                if status == "ok":
                    continue
                check = ReplicaCheck(chunk, workers[worker_id].name, status, rows)
                if repair and good and status != "unreachable":
                    for table, columns in tables:
                        copy_chunk(self.pool.get(workers[good[0]]), self.pool.get(workers[worker_id]),
                                   table, columns, chunk)
                    check.repaired = True
                report.problems.append(check)
            if progress is not None:
                progress(1)
        for name, table, columns, rows in replicated:
            self._verify_copies(report, name, table, columns, rows, active, hidden, repair)
        return report

    def _verify_copies(self, report, name, table, columns, committed_rows, workers, hidden, repair):
        """Judge (and with ``repair`` rebuild) the copies of one replicated table on ``workers``."""
        signatures = sign_copies(self.pool, workers, table, columns, hidden)
        checks = _judge(WHOLE_TABLE, list(signatures), signatures, committed_rows, 1)
        good = [w for w, status, _ in checks if status == "ok"]
        by_id = {w.id: w for w in workers}
        report.copies += len(checks)
        for worker_id, status, rows in checks:
            if status == "ok":
                continue
            check = ReplicaCheck(WHOLE_TABLE, by_id[worker_id].name, status, rows, table=name)
            if repair and good and status != "unreachable":
                rebuild_copy(self.pool.get(by_id[good[0]]), self.pool.get(by_id[worker_id]), table, columns)
                check.repaired = True
            report.problems.append(check)

    def _signatures(self, worker, tables, chunks, hidden):
        """{chunk: tuple of per-table (rows, checksum)} of ``worker``, or None if unreachable."""
        try:
            signed = [sign_chunks(self.pool.get(worker), table, columns, chunks, hidden)
                      for table, columns in tables]
        except WorkerUnavailableError:
            self.pool.discard(worker.id)
            return None
        return {chunk: tuple(s.get(chunk, (0, 0)) for s in signed) for chunk in chunks}

    # -- helpers ----------------------------------------------------------------------------
    def _database(self, database_name):
        with self.store.session() as session:
            database = get_database(session, database_name)
            return database.id, [w.id for w in active_workers(session)]

    def _placement(self, database_id):
        with self.store.session() as session:
            holders = {chunk: ws for (_, chunk), ws in registry.holders(session, database_id).items()}
            rows = registry.chunk_rows(session, database_id)
        return holders, {chunk: rows.get((database_id, chunk), 0) + 1 for chunk in holders}

    def _apply(self, database_id, steps, progress):
        if progress is not None:
            progress(0, len(steps))
        for batch in batches(steps, MOVE_BATCH):
            self.mover.change_many(database_id, batch)
            if progress is not None:
                progress(len(batch))
        return len(steps)


def batches(steps, size):
    """Consecutive runs of at most ``size`` steps, each chunk at most once per run (a later step
    of a chunk waits for the run after the one changing it)."""
    run, chunks = [], set()
    for step in steps:
        if len(run) == size or step[1] in chunks:
            yield run
            run, chunks = [], set()
        run.append(step)
        chunks.add(step[1])
    if run:
        yield run


def _judge(chunk, holder_ids, signatures, expected_rows, table_count):
    """[(worker id, status, rows)] of one chunk's replicas."""
    found = {w: None if signatures[w] is None else signatures[w][chunk] for w in holder_ids}
    votes = {}
    for signature in found.values():
        if signature is not None:
            votes[signature] = votes.get(signature, 0) + 1
    best = max(votes.values(), default=0)
    leaders = [s for s, n in votes.items() if n == best]
    if len(leaders) > 1:  # a tie: the signature matching the committed counts wins
        leaders = [s for s in leaders if sum(rows for rows, _ in s) == expected_rows] or leaders[:0]
    good = leaders[0] if len(leaders) == 1 else None
    empty = tuple((0, 0) for _ in range(table_count))
    checks = []
    for worker_id, signature in found.items():
        rows = None if signature is None else sum(r for r, _ in signature)
        if signature is None:
            status = "unreachable"
        elif signature == good:
            status = "ok"
        elif signature == empty:
            status = "missing"
        else:
            status = "differs"
        checks.append((worker_id, status, rows))
    return checks


def _worker_bytes(worker, location):
    """Bytes a worker's catalog tables use: the DuckDB file (and its WAL), or PostgreSQL's
    total relation sizes of the catalog tables."""
    if worker.backend == "duckdb":
        return sum(os.path.getsize(p) for p in (location, location + ".wal") if os.path.exists(p))
    found = worker.query(
        "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::BIGINT AS bytes FROM pg_class AS c "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND EXISTS "
        "(SELECT FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = '_qserv_txn')")
    return int(found.column(0)[0].as_py())
